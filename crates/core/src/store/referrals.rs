//! Referrals: making one (never a second open one to the same service), moving its status
//! along, and saying honestly how far it got. A laptop knows whether the server acknowledged
//! its events and whether an event came from another laptop. A referral to a service that is a
//! Harbour team (the service directory names the team, or the worker chose it) shares the case
//! with that team, and the team's laptop records a receipt when the referral reaches it
//! (`referral_receipts`): the referral is then [`Delivery::Delivered`]. A referral to a service
//! outside Harbour can only be known as far as the server.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Workspace, sent_through};
use crate::error::{Error, Result};
use crate::event::Change;
use crate::fold::CaseState;
use crate::ids::{CaseId, EntryId, EventId};
use crate::model::{ReferralReason, ReferralStatus, ServiceType, Urgency, values};

/// A referral as typed by a worker.
#[derive(Clone, Debug)]
pub struct ReferralInput {
    pub service: String,
    pub service_type: ServiceType,
    pub reason: ReferralReason,
    pub details: Option<String>,
    pub urgency: Urgency,
    pub consent_id: EntryId,
    /// The Harbour team receiving it, by name or id, when the worker chose one; otherwise the
    /// team the service directory names for the service, if any.
    pub team: Option<String>,
}

/// How far the latest change of a referral (its making, or its last status) got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Recorded on this laptop and not yet acknowledged by the server.
    Waiting,
    /// The server acknowledged it: the teams that may read the case receive it at their next sync.
    SentToServer,
    /// Recorded on another laptop and received here.
    Received,
    /// A laptop of the receiving team recorded that the referral reached it (the referral's
    /// status has not changed since).
    Delivered,
}

/// How far each referral of a case got, and the team each goes to: what an open case page asks
/// again after a sync. It holds no content of the case (ids, a coded delivery, team names), so
/// asking is not a view of the case and is not audited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReferralNews {
    pub delivery: BTreeMap<EntryId, Delivery>,
    pub teams: BTreeMap<EntryId, String>,
    /// The receipt of each referral a receiving team's laptop recorded.
    pub receipts: BTreeMap<EntryId, crate::fold::Receipt>,
}

impl Workspace {
    /// [`ReferralNews`] of `case_id`, from the case as stored.
    pub fn referral_news(&self, case_id: CaseId) -> Result<ReferralNews> {
        let state = self.state(case_id)?;
        let receipts = state
            .referrals
            .iter()
            .filter_map(|referral| Some((referral.referral.id, referral.delivered.clone()?)))
            .collect();
        Ok(ReferralNews { delivery: self.referral_deliveries(&state)?, teams: self.referral_teams(&state)?, receipts })
    }

    /// Records a referral. It must rely on a consent already recorded on the case, and the case
    /// may not already have an open referral (sent or accepted) to the same service.
    pub fn add_referral(&mut self, case_id: CaseId, input: ReferralInput) -> Result<(EntryId, CaseState)> {
        let state = self.state(case_id)?;
        if state.consent(input.consent_id).is_none() {
            return Err(Error::invalid(
                "consent",
                "no consent with that id on this case; record the person's consent first (harbour consent add)",
            ));
        }
        let service = values::short_text("service", &input.service)?;
        let open = state.referrals.iter().any(|referral| {
            referral.referral.service.trim().eq_ignore_ascii_case(service.trim())
                && matches!(referral.status, ReferralStatus::Sent | ReferralStatus::Accepted)
        });
        if open {
            return Err(Error::AlreadyReferred);
        }
        let team = self.receiving_team(input.team.as_deref(), &service)?;
        let referral = crate::model::Referral {
            id: EntryId::new(),
            service,
            service_type: input.service_type,
            reason: input.reason,
            details: input.details.as_deref().map(|text| values::long_text("details", text)).transpose()?,
            urgency: input.urgency,
            consent_id: input.consent_id,
            team: team.as_ref().map(|team| team.id),
        };
        let id = referral.id;
        let detail = input.service_type.as_str();
        let state = self.record_on(state, Change::ReferralMade { referral }, "referral.add", detail)?;
        // The receiving team may read the case from now on (once, whatever the referrals).
        if let Some(team) = team
            && !self.granted_to(case_id, team.id)?
        {
            self.share_case(case_id, &team)?;
        }
        Ok((id, state))
    }

    /// The Harbour team a referral goes to: the one chosen (`name_or_id`, which must exist), or
    /// the one the service directory names for `service` (none when it is not in the team
    /// directory held here: the referral is still made, to a service outside Harbour). A
    /// laptop outside an organisation has no teams.
    fn receiving_team(&self, name_or_id: Option<&str>, service: &str) -> Result<Option<harbour_wire::protocol::Team>> {
        if let Some(chosen) = name_or_id.filter(|chosen| !chosen.trim().is_empty()) {
            return self.team(chosen).map(Some);
        }
        if self.membership().is_none() {
            return Ok(None);
        }
        let named = self
            .service_directory()?
            .services
            .into_iter()
            .find(|entry| entry.id.eq_ignore_ascii_case(service.trim()))
            .and_then(|entry| entry.team);
        let Some(named) = named else { return Ok(None) };
        Ok(self.directory()?.and_then(|directory| directory.teams.into_iter().find(|team| team.id == named)))
    }

    /// Whether a grant of `case_id` to `team` is stored (a grant names its team in clear).
    fn granted_to(&self, case_id: CaseId, team: uuid::Uuid) -> Result<bool> {
        let grants = super::exchange::case_grants(&self.conn, case_id)?;
        Ok(grants.iter().any(|grant| crate::deployment::grant_team(grant) == Some(team)))
    }

    /// The name of the Harbour team each referral of `state` goes to, from the team directory
    /// held here (a referral to a service outside Harbour, or to a team this laptop does not
    /// know, has none).
    pub fn referral_teams(&self, state: &CaseState) -> Result<BTreeMap<EntryId, String>> {
        let mut names = BTreeMap::new();
        if !state.referrals.iter().any(|referral| referral.referral.team.is_some()) {
            return Ok(names);
        }
        let Some(directory) = self.directory()? else { return Ok(names) };
        for referral in &state.referrals {
            let team = referral.delivered.as_ref().map(|receipt| receipt.team_id).or(referral.referral.team);
            if let Some(team) = directory.teams.iter().find(|known| Some(known.id) == team) {
                names.insert(referral.referral.id, team.name.clone());
            }
        }
        Ok(names)
    }

    /// Moves a referral along sent → accepted/declined → completed.
    pub fn set_referral_status(
        &mut self,
        case_id: CaseId,
        referral_id: EntryId,
        status: ReferralStatus,
        note: Option<&str>,
    ) -> Result<CaseState> {
        let state = self.state(case_id)?;
        let current = state
            .referral(referral_id)
            .ok_or_else(|| Error::invalid("referral", "no referral with that id on this case"))?
            .status;
        if !current.may_become(status) {
            return Err(Error::invalid(
                "status",
                format!(
                    "a referral that is {} cannot become {}; the order is sent, then accepted or declined, then completed",
                    current.as_str(),
                    status.as_str()
                ),
            ));
        }
        let note = note.map(|text| values::long_text("note", text)).transpose()?;
        let change = Change::ReferralStatusChanged { referral_id, status, note };
        self.record_on(state, change, "referral.status", status.as_str())
    }

    /// How far each referral of `state` got, by its latest change.
    pub fn referral_deliveries(&self, state: &CaseState) -> Result<BTreeMap<EntryId, Delivery>> {
        let device = self.secrets.device_id.to_string();
        let cursor = sent_through(&self.conn)?;
        let mut statement = self.conn.prepare_cached("SELECT device_id, device_seq, sent FROM events WHERE id = ?1")?;
        let mut deliveries = BTreeMap::new();
        for referral in &state.referrals {
            let latest: EventId =
                referral.status_history.last().map_or(referral.recorded.event_id, |change| change.recorded.event_id);
            let row: Option<(String, i64, bool)> = statement
                .query_row(params![latest.to_string()], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .optional()?;
            let delivery = match row {
                // A receipt tells more than where the referral came from.
                Some(_) if referral.status_history.is_empty() && referral.delivered.is_some() => Delivery::Delivered,
                Some((from, _, _)) if from != device => Delivery::Received,
                Some((_, seq, sent)) if sent || seq <= cursor => Delivery::SentToServer,
                Some(_) => Delivery::Waiting,
                None => return Err(Error::Corrupt("a referral's event".into())),
            };
            deliveries.insert(referral.referral.id, delivery);
        }
        Ok(deliveries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KdfParams;
    use crate::model::{CaseFields, ConsentMethod, ConsentScope};
    use crate::store::{ConsentInput, CreateOptions};

    fn referral(service: &str, consent_id: EntryId) -> ReferralInput {
        ReferralInput {
            service: service.into(),
            service_type: ServiceType::Shelter,
            reason: ReferralReason::AdditionalServicesRequired,
            details: None,
            urgency: Urgency::Routine,
            consent_id,
            team: None,
        }
    }

    #[test]
    fn one_open_referral_per_service_and_delivery_as_the_laptop_knows_it() {
        let dir = tempfile::tempdir().unwrap();
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
        let mut workspace = Workspace::create(dir.path(), "a long test passphrase", &options).unwrap();
        let case = workspace.create_case(CaseFields::named("Invented Person").unwrap()).unwrap();
        let consent = ConsentInput {
            scope: vec![ConsentScope::Identity],
            shared_with: "Shelter".into(),
            given_on: chrono::Utc::now().date_naive(),
            method: ConsentMethod::Verbal,
            note: None,
        };
        let (consent_id, _) = workspace.add_consent(case.id, consent).unwrap();
        let (first, state) = workspace.add_referral(case.id, referral("shelter-women", consent_id)).unwrap();
        assert_eq!(workspace.referral_deliveries(&state).unwrap()[&first], Delivery::Waiting);

        // The same service again, however it is written, while the first is open: refused.
        let refused = workspace.add_referral(case.id, referral(" Shelter-Women ", consent_id)).unwrap_err();
        assert!(matches!(refused, Error::AlreadyReferred), "{refused}");
        workspace.set_referral_status(case.id, first, ReferralStatus::Accepted, None).unwrap();
        assert!(matches!(
            workspace.add_referral(case.id, referral("shelter-women", consent_id)),
            Err(Error::AlreadyReferred)
        ));
        // Another service is fine; once the first is declined, the service may be asked again.
        workspace.add_referral(case.id, referral("legal-aid", consent_id)).unwrap();

        let ids: Vec<uuid::Uuid> = workspace.pending_events(100).unwrap().iter().map(|event| event.id).collect();
        workspace.mark_sent(&ids).unwrap();
        let state = workspace.view_case(case.id).unwrap();
        assert_eq!(workspace.referral_deliveries(&state).unwrap()[&first], Delivery::SentToServer);
        let other = workspace.create_case(CaseFields::named("Another Person").unwrap()).unwrap();
        let (consent_id, _) = workspace
            .add_consent(
                other.id,
                ConsentInput {
                    scope: vec![ConsentScope::Identity],
                    shared_with: "Shelter".into(),
                    given_on: chrono::Utc::now().date_naive(),
                    method: ConsentMethod::Verbal,
                    note: None,
                },
            )
            .unwrap();
        let (second, _) = workspace.add_referral(other.id, referral("shelter-women", consent_id)).unwrap();
        workspace.set_referral_status(other.id, second, ReferralStatus::Declined, None).unwrap();
        workspace.add_referral(other.id, referral("shelter-women", consent_id)).unwrap();
        let state = workspace.view_case(other.id).unwrap();
        assert_eq!(workspace.referral_deliveries(&state).unwrap()[&second], Delivery::Waiting, "its decline waits");
    }
}
