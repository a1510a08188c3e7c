//! A standalone laptop joins its organisation later, keeping its id and its cases: the
//! invitation is opened with its one-time code, redeemed on the server for a certificate made
//! for this laptop's own id, and the workspace then becomes a laptop of the organisation
//! (`Workspace::join_later`: every case granted to its team and the ministry, sent at the next
//! sync). The desktop's Settings and `harbour join` both go through here.

use std::sync::Mutex;

use harbour_core::Workspace;

use crate::client::Client;
use crate::engine::{SyncError, with};

/// What joining did.
#[derive(Debug)]
pub struct JoinedLater {
    /// Cases moved into the organisation (sent at the next sync).
    pub cases: usize,
    /// The team this laptop now belongs to.
    pub team: String,
    /// A client for the organisation's server, authenticated as this laptop.
    pub client: Client,
}

/// Joins the organisation of `invitation` (its text) with `code`. The workspace is not locked
/// while the server redeems the invitation.
pub async fn join_later(workspace: &Mutex<Workspace>, invitation: &str, code: &str) -> Result<JoinedLater, SyncError> {
    let (invitation, enrolment) = with(workspace, |ws| {
        if ws.membership().is_some() {
            return Err(harbour_core::Error::invalid("invitation", "this laptop already belongs to an organisation"));
        }
        let invitation = harbour_core::deployment::open_invitation(invitation.trim(), code.trim())?;
        let enrolment = Workspace::prepare_enrolment_as(&invitation, ws.worker(), ws.device_id())?;
        Ok((invitation, enrolment))
    })?;
    let redeemer = Client::new(&invitation.server_url)?.with_token(&invitation.invitation_token);
    let redeemed = redeemer.redeem_invitation(enrolment.device_id.0, &enrolment.identity.certificate).await?;
    let cases = with(workspace, |ws| ws.join_later(&invitation, enrolment, &redeemed.device_token))?;
    Ok(JoinedLater { cases, team: invitation.team_name.clone(), client: redeemer.with_token(&redeemed.device_token) })
}
