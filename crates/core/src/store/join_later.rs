//! Joining an organisation later: a standalone workspace becomes a laptop of the organisation an
//! invitation names, and keeps its cases. It keeps its device id (its events already bear it, so
//! nothing is re-sealed or renumbered): the invitation is redeemed for a certificate made for
//! that id ([`Workspace::prepare_enrolment_as`]), then every case recorded here is granted to the
//! laptop's team and the ministry, and the next sync sends the cases with their grants.

use super::membership::membership_for;
use super::{Enrolment, Workspace};
use crate::deployment::Invitation;
use crate::error::{Error, Result};
use crate::ids::CaseId;
use crate::keyfile;

impl Workspace {
    /// Makes this standalone workspace a laptop of the invitation's organisation, once the
    /// server redeemed the invitation for `enrolment` and minted `device_token`. Returns how
    /// many cases were moved into the organisation (granted to the laptop's team and the
    /// ministry; they are sent at the next sync).
    pub fn join_later(&mut self, invitation: &Invitation, enrolment: Enrolment, device_token: &str) -> Result<usize> {
        if self.membership().is_some() {
            return Err(Error::invalid("invitation", "this laptop already belongs to an organisation"));
        }
        if enrolment.device_id != self.secrets.device_id {
            return Err(Error::invalid(
                "invitation",
                "the enrolment was prepared for another laptop; start joining again",
            ));
        }
        self.secrets.membership = Some(membership_for(invitation, enrolment.identity, device_token)?);
        self.store_directory(&invitation.directory)?;
        self.mark_certificate_sent()?;
        let teams = self.home_teams()?;
        let cases: Vec<CaseId> = {
            let mut statement = self.conn.prepare("SELECT id FROM cases ORDER BY rowid")?;
            let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
            rows.map(|id| id?.parse::<CaseId>()).collect::<Result<Vec<_>>>()?
        };
        for case_id in &cases {
            self.record_grants(*case_id, &teams, false)?;
        }
        // The key file last: until it is written, the laptop unlocks as the standalone one it was.
        keyfile::write(&self.dir, &self.sealer, &self.secrets)?;
        self.audit_now("device.enrol", None, &invitation.team_id.to_string())?;
        Ok(cases.len())
    }
}
