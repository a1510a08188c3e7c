//! Append-only entries of a case: notes, consents, referrals, screenings, the stages of the
//! trafficking process, the justice response, perpetrators and services received. They never
//! conflict: two devices adding entries at once simply both add them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::codes::{
    JusticeStage, PerpetratorRole, ProcessStage, RecruiterRelation, ReferralReason, ServiceType, Sex, Urgency,
};
use super::values::{ApproxDate, Country};
use crate::error::{Error, Result};
use crate::ids::EntryId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: EntryId,
    pub text: String,
}

/// What a person agreed to share, with whom, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub id: EntryId,
    /// The categories of information the person agreed to share.
    pub scope: Vec<ConsentScope>,
    /// With whom (a team, a service, or "any service in the referral").
    pub shared_with: String,
    pub given_on: NaiveDate,
    pub method: ConsentMethod,
    pub note: Option<String>,
}

/// Categories of information a consent can cover; a referral shares only what its consent covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentScope {
    /// Name, aliases, sex and age.
    Identity,
    /// Phone and location.
    Contact,
    /// Status, risk and exploitation types, without notes.
    CaseSummary,
    /// Screening answers and results.
    Screenings,
    /// Health information.
    Health,
    /// Notes written by workers.
    Notes,
}

impl ConsentScope {
    pub const ALL: &'static [ConsentScope] = &[
        ConsentScope::Identity,
        ConsentScope::Contact,
        ConsentScope::CaseSummary,
        ConsentScope::Screenings,
        ConsentScope::Health,
        ConsentScope::Notes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentScope::Identity => "identity",
            ConsentScope::Contact => "contact",
            ConsentScope::CaseSummary => "case_summary",
            ConsentScope::Screenings => "screenings",
            ConsentScope::Health => "health",
            ConsentScope::Notes => "notes",
        }
    }

    pub fn parse(text: &str) -> Result<ConsentScope> {
        let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
        ConsentScope::ALL.iter().copied().find(|scope| scope.as_str() == wanted).ok_or_else(|| {
            let names: Vec<&str> = ConsentScope::ALL.iter().map(|scope| scope.as_str()).collect();
            Error::refused(
                "share",
                super::fault::Fault::NotAllowed,
                format!("\"{}\" is not allowed; use one of: {}", text.trim(), names.join(", ")),
            )
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMethod {
    Verbal,
    Written,
}

impl ConsentMethod {
    pub fn parse(text: &str) -> Result<ConsentMethod> {
        match text.trim().to_ascii_lowercase().as_str() {
            "verbal" => Ok(ConsentMethod::Verbal),
            "written" => Ok(ConsentMethod::Written),
            other => Err(Error::refused(
                "method",
                super::fault::Fault::NotAllowed,
                format!("\"{other}\" is not allowed; use verbal or written"),
            )),
        }
    }
}

/// A referral of the person to a service, relying on a recorded consent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub id: EntryId,
    pub service: String,
    pub service_type: ServiceType,
    pub reason: ReferralReason,
    pub details: Option<String>,
    pub urgency: Urgency,
    pub consent_id: EntryId,
    /// The Harbour team that receives the referral, when the service is one (the directory
    /// names it, or the worker chose it): the case is shared with it, and its laptops record
    /// that they received the referral ([`crate::event::Change::ReferralDelivered`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<uuid::Uuid>,
}

/// Where a referral stands: sent → accepted or declined → completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    Sent,
    Accepted,
    Declined,
    Completed,
}

impl ReferralStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Sent => "sent",
            ReferralStatus::Accepted => "accepted",
            ReferralStatus::Declined => "declined",
            ReferralStatus::Completed => "completed",
        }
    }

    pub fn parse(text: &str) -> Result<ReferralStatus> {
        match text.trim().to_ascii_lowercase().as_str() {
            "sent" => Ok(ReferralStatus::Sent),
            "accepted" => Ok(ReferralStatus::Accepted),
            "declined" => Ok(ReferralStatus::Declined),
            "completed" => Ok(ReferralStatus::Completed),
            other => Err(Error::refused(
                "status",
                super::fault::Fault::NotAllowed,
                format!("\"{other}\" is not a referral status; use accepted, declined or completed"),
            )),
        }
    }

    /// Whether a person may move a referral from `self` to `next`.
    pub fn may_become(self, next: ReferralStatus) -> bool {
        matches!(
            (self, next),
            (ReferralStatus::Sent, ReferralStatus::Accepted)
                | (ReferralStatus::Sent, ReferralStatus::Declined)
                | (ReferralStatus::Accepted, ReferralStatus::Completed)
        )
    }
}

/// A filled screening form. It keeps the exact form id and version forever, so answers given
/// on an old version still display and score after the form is revised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Screening {
    pub id: EntryId,
    pub form_id: String,
    pub form_version: u32,
    /// Language the questions were asked in.
    pub language: String,
    /// Question id → answer.
    pub answers: BTreeMap<String, serde_json::Value>,
    /// The result computed when it was recorded (level, reasons, codes), kept as computed.
    pub result: serde_json::Value,
}

/// One stage of the trafficking process: where and when the person was recruited, moved or
/// exploited (HTCDS `hte_`). The place is the worker's words about a town or site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEvent {
    pub id: EntryId,
    pub stage: ProcessStage,
    pub country: Country,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ApproxDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<ApproxDate>,
}

/// A step of the justice response: reported, investigated, charged, prosecuted, and its
/// outcome. A step may name the perpetrator it concerns (an id from [`Perpetrator`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JusticeStep {
    pub id: EntryId,
    pub stage: JusticeStage,
    /// The day it happened; when not given, the day it was recorded counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perpetrator: Option<EntryId>,
    /// For a conviction: the sentence in months of imprisonment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentence_months: Option<u32>,
}

/// A perpetrator as a minimal coded record: never a name or free text about a suspect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Perpetrator {
    pub id: EntryId,
    pub roles: Vec<PerpetratorRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<Country>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<RecruiterRelation>,
}

/// A service the person received (shelter, medical care, legal aid, return …), with its dates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceReceived {
    pub id: EntryId,
    pub service_type: ServiceType,
    pub date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referral_lifecycle() {
        use ReferralStatus::*;
        assert!(Sent.may_become(Accepted));
        assert!(Sent.may_become(Declined));
        assert!(Accepted.may_become(Completed));
        assert!(!Declined.may_become(Completed));
        assert!(!Completed.may_become(Sent));
        assert!(!Sent.may_become(Completed));
        assert!(ReferralStatus::parse("pending").unwrap_err().to_string().starts_with("status:"));
    }

    #[test]
    fn consent_scope_names() {
        assert_eq!(ConsentScope::parse("case-summary").unwrap(), ConsentScope::CaseSummary);
        assert!(ConsentScope::parse("everything").unwrap_err().to_string().contains("identity, contact"));
    }
}
