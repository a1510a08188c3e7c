//! A consented transfer to a partner's case system, shaped as the Human Trafficking Case Data
//! Standard v2.0 (UN Migration / IOM): one record per case, grouped by the standard's tables
//! (`prs_` person, `vic_` victim context, `hte_` trafficking events, `per_` perpetrators,
//! `cas_` case) with its field names and coded values.
//!
//! Only cases whose consent covers the transfer leave: a consent sharing at least `identity`
//! and `case_summary` (an HTCDS record is the person and their case). Contact details (phone,
//! location, the places of the trafficking events) go only when that consent also covers
//! `contact`. Notes, screening answers and workers' names never go. Every other case asked for
//! is listed as left out, by its case code only.
//!
//! Field names not in `reference/standards.md` (`prs_FullName`, `hte_StartDate` …) follow the
//! standard's table prefixes and naming; check them against the published field reference.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::Result;
use crate::fold::CaseState;
use crate::ids::{CaseCode, CaseId};
use crate::model::{Consent, ConsentScope};
use crate::store::{CaseQuery, Workspace};

/// The transfer: the document, and which cases it holds or leaves out.
#[derive(Clone, Debug, Serialize)]
pub struct HtcdsExport {
    #[serde(skip)]
    pub document: Value,
    pub included: Vec<CaseCode>,
    pub left_out: Vec<CaseCode>,
}

impl Workspace {
    /// The HTCDS record of each case in `cases` (every case on this laptop when empty) whose
    /// consent covers the transfer. One `export.htcds` audit entry counts what went and what
    /// was left out; the file itself is written by the caller (encrypted unless asked).
    pub fn export_htcds(&mut self, cases: &[CaseId]) -> Result<HtcdsExport> {
        let ids: Vec<CaseId> = if cases.is_empty() {
            self.list_cases(&CaseQuery::default())?.into_iter().map(|summary| summary.id).collect()
        } else {
            cases.to_vec()
        };
        let (mut records, mut included, mut left_out) = (Vec::new(), Vec::new(), Vec::new());
        for id in ids {
            let state = self.full_state(id)?;
            match covering_consent(&state) {
                Some(consent) => {
                    records.push(record(&state, consent));
                    included.push(state.code.clone());
                }
                None => left_out.push(state.code.clone()),
            }
        }
        let document = json!({
            "standard": "HTCDS",
            "version": "2.0",
            "exported_at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "cases": records,
            "left_out": left_out.iter().map(|code| code.as_str()).collect::<Vec<_>>(),
        });
        self.audit_now("export.htcds", None, &format!("included={} left_out={}", included.len(), left_out.len()))?;
        Ok(HtcdsExport { document, included, left_out })
    }
}

/// The newest consent that covers an HTCDS transfer: identity and case summary.
fn covering_consent(state: &CaseState) -> Option<&Consent> {
    state
        .consents
        .iter()
        .map(|dated| &dated.entry)
        .filter(|consent| {
            consent.scope.contains(&ConsentScope::Identity) && consent.scope.contains(&ConsentScope::CaseSummary)
        })
        .max_by_key(|consent| consent.given_on)
}

/// A coded value's name in HTCDS: the standard code without CTDC's flag prefix.
fn code(standard: &str, prefix: &str) -> String {
    standard.strip_prefix(prefix).unwrap_or(standard).to_owned()
}

fn day_of(ms: u64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms as i64).unwrap_or_default().date_naive().to_string()
}

fn record(state: &CaseState, consent: &Consent) -> Value {
    let fields = &state.fields;
    let contact = consent.scope.contains(&ConsentScope::Contact);
    let mut person = json!({
        "prs_FullName": fields.name,
        "prs_Aliases": fields.aliases,
        "prs_Gender": fields.sex.map(|sex| sex.standard_code()),
        "prs_DateOfBirth": fields.birth_date.map(|day| day.to_string()),
        "prs_EstimatedAge": fields.estimated_age.map(|age| json!({"years": age.years, "as_of": age.as_of.to_string()})),
        "prs_Nationality": fields.nationalities.iter().map(|country| country.as_str()).collect::<Vec<_>>(),
        "prs_Languages": fields.languages.iter().map(|language| language.as_str()).collect::<Vec<_>>(),
    });
    if contact {
        person["prs_PhoneNumber"] = json!(fields.phone.as_ref().map(|phone| phone.as_str()));
        person["prs_Address"] = json!(fields.location);
    }
    let victim = json!({
        "vic_AgreementToManagePersonalData": true,
        "vic_AgreementDate": consent.given_on.to_string(),
        "vic_AgreementScope": consent.scope.iter().map(|scope| scope.as_str()).collect::<Vec<_>>(),
        "vic_TraffickingStatus": fields.identification_status.map(|status| status.standard_code()),
        "vic_IdentificationDate": fields.identification_date.map(|day| day.to_string()),
        "vic_IdentifiedBy": fields.identified_by.map(|organisation| organisation.standard_code()),
        "vic_TypeOfExploitation": fields.exploitation_types.iter().map(|kind| code(kind.standard_code(), "is")).collect::<Vec<_>>(),
        "vic_MethodsOfControl": fields.means_of_control.iter().map(|means| code(means.standard_code(), "meansOfControl")).collect::<Vec<_>>(),
        "vic_TypeOfLabourExploitation": fields.labour_sectors.iter().map(|sector| code(sector.standard_code(), "typeOfLabour")).collect::<Vec<_>>(),
        "vic_MethodOfRecruitment": fields.recruitment_methods.iter().map(|method| method.standard_code()).collect::<Vec<_>>(),
        "vic_RecruiterRelationship": fields.recruiter_relation.map(|relation| code(relation.standard_code(), "recruiterRelation")),
        "vic_CountryOfExploitation": fields.country_of_exploitation.as_ref().map(|country| country.as_str()),
    });
    let events: Vec<Value> = state
        .process
        .iter()
        .map(|dated| {
            let event = &dated.entry;
            let mut value = json!({
                "hte_Type": event.stage.standard_code(),
                "hte_Country": event.country.as_str(),
                "hte_StartDate": event.from.map(|date| date.to_string()),
                "hte_EndDate": event.to.map(|date| date.to_string()),
            });
            if contact {
                value["hte_Location"] = json!(event.place);
            }
            value
        })
        .collect();
    let perpetrators: Vec<Value> = state
        .perpetrators
        .iter()
        .map(|dated| {
            let perpetrator = &dated.entry;
            json!({
                "per_RoleInProcess": perpetrator.roles.iter().map(|role| role.standard_code()).collect::<Vec<_>>(),
                "per_Gender": perpetrator.sex.map(|sex| sex.standard_code()),
                "per_Nationality": perpetrator.nationality.as_ref().map(|country| country.as_str()),
                "per_RelationshipToVictim": perpetrator.relationship.map(|relation| code(relation.standard_code(), "recruiterRelation")),
            })
        })
        .collect();
    let case = json!({
        "cas_CaseId": state.code.as_str(),
        "cas_Status": fields.status.standard_code(),
        "cas_DateOpened": day_of(state.created.at_ms()),
        "cas_OutgoingReferrals": state.referrals.iter().map(|referral| json!({
            "organisation": referral.referral.service,
            "date": day_of(referral.recorded.at_ms()),
            "reason": referral.referral.reason.standard_code(),
            "status": referral.status.as_str(),
        })).collect::<Vec<_>>(),
    });
    json!({ "prs": person, "vic": victim, "hte": events, "per": perpetrators, "cas": case })
}
