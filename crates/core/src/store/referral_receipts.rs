//! Receipts of referrals: a laptop of the team a referral names records, once the referral has
//! reached it, that it did ([`Change::ReferralDelivered`], sealed under the case key like every
//! change of the case, so the server can neither read nor forge one, only withhold it). The
//! laptop that made the referral then shows it delivered to that team (`referrals`).
//!
//! The sync asks for receipts after each pull, for the cases into which it brought a referral
//! made elsewhere ([`super::ApplyReport::referral_cases`], noted as the pulled events are stored): no
//! scan of what was stored.

use super::{Pending, Workspace};
use crate::error::{Error, Result};
use crate::event::Change;
use crate::ids::CaseId;

impl Workspace {
    /// Records a receipt for every referral in these cases (those into which a pull brought a
    /// referral made on another laptop: [`super::ApplyReport::referral_cases`]) that names this
    /// laptop's team and has none from it yet, in a case this laptop can read. Returns how many
    /// were recorded; they go to the server at the next push.
    pub fn record_referral_receipts<'a>(&mut self, cases: impl IntoIterator<Item = &'a CaseId>) -> Result<usize> {
        let Some(team) = self.membership().map(|membership| membership.team_id) else { return Ok(0) };
        let device = self.secrets.device_id;
        let mut receipts = Vec::new();
        for &case_id in cases {
            let state = match self.state(case_id) {
                Ok(state) => state,
                // Its key has not come yet: nothing of it can be read, nor answered.
                Err(Error::CaseNotFound(_)) => continue,
                Err(error) => return Err(error),
            };
            for referral in &state.referrals {
                let to_us = referral.referral.team == Some(team);
                let ours = referral.delivered.as_ref().is_some_and(|receipt| receipt.team_id == team);
                if to_us && !ours && referral.recorded.device_id != device {
                    receipts.push(Pending {
                        case_id,
                        change: Change::ReferralDelivered { referral_id: referral.referral.id, team_id: team },
                        action: "referral.delivered",
                        detail: referral.referral.service_type.as_str().to_owned(),
                        new_key: None,
                        state: None,
                    });
                }
            }
        }
        let count = receipts.len();
        if count > 0 {
            self.record_all(receipts)?;
        }
        Ok(count)
    }
}
