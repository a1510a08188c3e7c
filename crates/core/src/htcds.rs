//! A consented transfer to a partner's case system, shaped as the Human Trafficking Case Data
//! Standard v2.0 (UN Migration / IOM): one record per case, grouped by the standard's tables
//! (`prs_` person, `vic_` victim context, `con_` consent, `hte_` trafficking events, `per_`
//! perpetrators, `cas_` case and its outgoing referrals) with its field names and value names.
//!
//! Only cases whose consent covers the transfer leave: a consent given for this recipient (its
//! `shared_with` names the receiving organisation, compared without regard to capitals or
//! spacing) sharing at least `identity` and `case_summary` (an HTCDS record is the person and
//! their case). Contact details (phone, location, the places of the trafficking events) go only
//! when that consent also covers `contact`. Notes, screening answers and workers' names never
//! go. Every other case asked for is listed as left out, by its case code only, with the reason
//! ([`LeftOutReason`]).
//!
//! Every key inside a record is a field of HTCDS v2.0 ([`HTCDS_V2_FIELDS`], from the standard's
//! `HTCDS Field Standards 2.0.ods`, UNMigration/HTCDS; docs/HTCDS.md), except the grouping keys
//! and the `harbour` object of each record, event and perpetrator, which carries what the standard
//! has no field for (the name as one text, the case code, an estimated age, the consent's date
//! and scope, approximate dates …). Harbour's values are mapped to the standard's value names
//! where the standard lists them; a value with no counterpart becomes the standard's `Other`
//! or is left to the `harbour` object (docs/HTCDS.md lists each choice).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use std::io::Write as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::export::Protection;
use crate::export::protect::Sink;
use crate::fold::CaseState;
use crate::ids::{CaseCode, CaseId};
use crate::model::values;
use crate::model::{
    Consent, ConsentScope, ExploitationType, IdentificationStatus, LabourSector, MeansOfControl, OrganisationType,
    RecruiterRelation, RecruitmentMethod, Sex,
};
use crate::store::{CaseQuery, Workspace};

/// The transfer: the document, and which cases it holds or leaves out.
#[derive(Clone, Debug, Serialize)]
pub struct HtcdsExport {
    #[serde(skip)]
    pub document: Value,
    /// The organisation receiving the transfer, as the worker named it.
    pub recipient: String,
    pub included: Vec<CaseCode>,
    /// The cases asked for that did not go, in the order asked, each with why.
    pub left_out: Vec<LeftOut>,
}

/// A case asked for that the transfer leaves out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub code: CaseCode,
    pub reason: LeftOutReason,
}

/// Why a case is left out of an HTCDS transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftOutReason {
    /// No consent of the case shares both identity and case summary, with anyone.
    NotConsented,
    /// A consent shares identity and case summary, but with another recipient than this one.
    OtherRecipient,
}

impl LeftOutReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LeftOutReason::NotConsented => "not_consented",
            LeftOutReason::OtherRecipient => "other_recipient",
        }
    }
}

impl HtcdsExport {
    /// The codes of the cases left out, whatever the reason.
    pub fn left_out_codes(&self) -> Vec<&str> {
        self.left_out.iter().map(|left| left.code.as_str()).collect()
    }
}

impl Workspace {
    /// Writes the HTCDS records of each case in `cases` (every case on this laptop when empty)
    /// whose consent covers the transfer to `recipient` to the new file `out`, protected as
    /// asked (encrypted as it is written, nothing in clear on disk), and records one
    /// `export.htcds` audit entry counting what went and what was left out. An existing `out`
    /// is refused; a failed export leaves no file.
    pub fn export_htcds(
        &mut self,
        cases: &[CaseId],
        recipient: &str,
        protection: &Protection,
        out: &Path,
    ) -> Result<HtcdsExport> {
        let recipient = values::short_text("to", recipient)?;
        let export = self.htcds_document(cases, &recipient)?;
        let bytes = serde_json::to_vec_pretty(&export.document).map_err(|_| Error::Corrupt("HTCDS document".into()))?;
        let mut sink = Sink::create(out, protection)?;
        sink.write_all(&bytes).map_err(|error| Error::Io { path: out.to_owned(), source: error })?;
        sink.finish()?;
        let other = export.left_out.iter().filter(|left| left.reason == LeftOutReason::OtherRecipient).count();
        let detail = format!(
            "{} included={} left_out={} other_recipient={other}",
            protection.as_str(),
            export.included.len(),
            export.left_out.len()
        );
        if let Err(error) = self.audit_now("export.htcds", None, &detail) {
            // An export that is not in the audit log does not stay.
            let _ = std::fs::remove_file(out);
            return Err(error);
        }
        Ok(export)
    }

    /// The organisations a transfer may go to, for a worker to choose from: the services of
    /// the service directory and the recipients named by the consents on this laptop that
    /// share identity and case summary, each once (the first spelling met), in alphabetical order.
    pub fn htcds_recipients(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> =
            self.service_directory()?.services.into_iter().map(|service| service.name).collect();
        names.extend(self.htcds_consented_recipients()?);
        Ok(distinct_names(names))
    }

    /// The organisations the consents on this laptop name for a transfer (identity and case
    /// summary), each once: when there is only one, a transfer that names none goes to it.
    pub fn htcds_consented_recipients(&self) -> Result<Vec<String>> {
        /// The part of a stored projection this reads: its consents' scope and recipient.
        #[derive(serde::Deserialize)]
        struct Projection {
            #[serde(default)]
            consents: Vec<Given>,
        }
        #[derive(serde::Deserialize)]
        struct Given {
            scope: Vec<ConsentScope>,
            shared_with: String,
        }
        let mut names = Vec::new();
        self.each_projection(None, None, |json, _| {
            let projection: Projection =
                serde_json::from_slice(json).map_err(|_| Error::Corrupt("case state".into()))?;
            names.extend(
                projection
                    .consents
                    .into_iter()
                    .filter(|given| shares_a_record(&given.scope))
                    .map(|given| given.shared_with),
            );
            Ok(())
        })?;
        Ok(distinct_names(names))
    }

    /// The transfer's document, in memory only.
    fn htcds_document(&mut self, cases: &[CaseId], recipient: &str) -> Result<HtcdsExport> {
        let ids: Vec<CaseId> = if cases.is_empty() {
            self.list_cases(&CaseQuery::default())?.into_iter().map(|summary| summary.id).collect()
        } else {
            cases.to_vec()
        };
        let (mut records, mut included, mut left_out) = (Vec::new(), Vec::new(), Vec::new());
        for id in ids {
            let state = self.full_state(id)?;
            match covering_consent(&state, recipient) {
                Ok(consent) => {
                    records.push(record(&state, consent));
                    included.push(state.code.clone());
                }
                Err(reason) => left_out.push(LeftOut { code: state.code.clone(), reason }),
            }
        }
        let document = json!({
            "standard": "HTCDS",
            "version": "2.0",
            "exported_at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "recipient": recipient,
            "cases": records,
            "left_out": left_out.iter().map(|left| left.code.as_str()).collect::<Vec<_>>(),
        });
        Ok(HtcdsExport { document, recipient: recipient.to_owned(), included, left_out })
    }
}

/// Whether a consent of `scope` shares what an HTCDS record is: the person and their case.
fn shares_a_record(scope: &[ConsentScope]) -> bool {
    scope.contains(&ConsentScope::Identity) && scope.contains(&ConsentScope::CaseSummary)
}

/// A recipient's name as compared: capitals and runs of spaces do not make another organisation.
/// Names without blanks, each once (compared as a recipient is), sorted as a person reads them.
fn distinct_names(mut names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|name| !name.trim().is_empty() && seen.insert(same_recipient_key(name)));
    names.sort_by_key(|name| name.to_lowercase());
    names
}

fn same_recipient_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The newest consent that covers an HTCDS transfer to `recipient` (identity and case summary,
/// given for that recipient), or why there is none.
fn covering_consent<'a>(state: &'a CaseState, recipient: &str) -> std::result::Result<&'a Consent, LeftOutReason> {
    let wanted = same_recipient_key(recipient);
    let mut sharing =
        state.consents.iter().map(|dated| &dated.entry).filter(|consent| shares_a_record(&consent.scope)).peekable();
    if sharing.peek().is_none() {
        return Err(LeftOutReason::NotConsented);
    }
    sharing
        .filter(|consent| same_recipient_key(&consent.shared_with) == wanted)
        .max_by_key(|consent| consent.given_on)
        .ok_or(LeftOutReason::OtherRecipient)
}

/// The HTCDS v2.0 field names this export writes (each in the standard's field table).
pub const HTCDS_V2_FIELDS: &[&str] = &[
    "prs_Birthdate",
    "prs_Gender",
    "prs_Citizenship",
    "prs_PrimaryLanguage",
    "prs_SecondaryLanguage",
    "prs_MobilePhone",
    "vic_TraffickingStatus",
    "vic_TraffickingStatusDecisionMakingOrg",
    "vic_RelationshipToTrafficker",
    "vic_MethodOfRecruitment",
    "vic_MethodsOfControl",
    "vic_TypeOfExploitation",
    "vic_ForcedLabourIndustry",
    "con_Consent",
    "hte_Type",
    "hte_Country",
    "hte_Date",
    "per_RoleInProcess",
    "cas_Status",
    "cas_ReferredOrganisation",
    "cas_OutgoingReferralDate",
    "cas_ReasonForOutgoingReferral",
];

fn day_of(ms: u64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms as i64).unwrap_or_default().date_naive().to_string()
}

/// `prs_Gender` (v2.0: Feminine, Masculine, TransgenderFeminine, TransgenderMasculine,
/// NonConforming, NonSpecifiedUnknown). Harbour's one transgender/non-conforming value does
/// not say which, so it is the standard's `NonConforming`.
fn gender(sex: Sex) -> &'static str {
    match sex {
        Sex::Female => "Feminine",
        Sex::Male => "Masculine",
        Sex::TransgenderNonConforming => "NonConforming",
        Sex::Unknown => "NonSpecifiedUnknown",
    }
}

/// `vic_TraffickingStatus`: a presumed victim is not yet identified, so still possible.
fn trafficking_status(status: IdentificationStatus) -> &'static str {
    match status {
        IdentificationStatus::Possible | IdentificationStatus::Presumed => "PossibleVictimOfTrafficking",
        IdentificationStatus::Identified => "ActualVictimOfTrafficking",
        IdentificationStatus::NotAVictim => "NotAVictimOfTrafficking",
    }
}

/// `vic_TraffickingStatusDecisionMakingOrg` (Police, NGO, CourtOrProsecution,
/// NonPoliceGovernmentalOrganization, Other).
fn decision_making_org(organisation: OrganisationType) -> &'static str {
    match organisation {
        OrganisationType::Ngo => "NGO",
        OrganisationType::LawEnforcement => "Police",
        OrganisationType::CentralGovernment
        | OrganisationType::LocalGovernment
        | OrganisationType::ImmigrationService => "NonPoliceGovernmentalOrganization",
        OrganisationType::HealthService | OrganisationType::LegalService | OrganisationType::CorporateBusiness => {
            "Other"
        }
    }
}

/// `vic_RelationshipToTrafficker` (Familial, Acquainted, Unaquainted — the standard's spelling).
/// Harbour records the relation to the recruiter; "other" and "unknown" say neither.
fn relationship(relation: RecruiterRelation) -> Option<&'static str> {
    match relation {
        RecruiterRelation::Family => Some("Familial"),
        RecruiterRelation::IntimatePartner | RecruiterRelation::Friend => Some("Acquainted"),
        RecruiterRelation::Other | RecruiterRelation::Unknown => None,
    }
}

/// `vic_MethodOfRecruitment` (v2.0 names where and through what a person was recruited).
fn recruitment(method: RecruitmentMethod) -> Option<&'static str> {
    Some(match method {
        RecruitmentMethod::EducationalFacility => "AtAnEducationalInstitution",
        RecruitmentMethod::Familial => "ThroughFamilyOrFamilyEvents",
        RecruitmentMethod::Internet => "ThroughOnlineSocialNetworks",
        RecruitmentMethod::Work => "AtWork",
        RecruitmentMethod::Unknown => return None,
        RecruitmentMethod::Abduction
        | RecruitmentMethod::MarriageBroker
        | RecruitmentMethod::IntimatePartner
        | RecruitmentMethod::JobOffer
        | RecruitmentMethod::PosingAsBenefactor
        | RecruitmentMethod::PublicArea
        | RecruitmentMethod::OfferOfAccommodation
        | RecruitmentMethod::Other => "Other",
    })
}

/// `vic_MethodsOfControl` (v2.0's 16 values).
fn control(means: MeansOfControl) -> &'static str {
    match means {
        MeansOfControl::DebtBondage => "DebtBondage",
        MeansOfControl::TakesEarnings => "TakesEarnings",
        MeansOfControl::RestrictsFinancialAccess => "RestrictsFinancialAccess",
        MeansOfControl::Threats => "PhysicalThreats",
        MeansOfControl::PsychologicalAbuse => "PsychologicalAbuse",
        MeansOfControl::PhysicalAbuse => "PhysicalAbuse",
        MeansOfControl::SexualAbuse => "SexualAbuse",
        MeansOfControl::FalsePromises => "FalsePromises",
        MeansOfControl::PsychoactiveSubstances => "PsychoactiveSubstance",
        MeansOfControl::RestrictsMedicalCare => "RestrictsMedicalCare",
        MeansOfControl::ExcessiveWorkingHours => "ExcessiveWorkingHours",
        MeansOfControl::UsesChildren => "ThreatensChildrenFamily",
        MeansOfControl::ThreatOfLawEnforcement => "ThreatsLawEnforcement",
        MeansOfControl::WithholdsNecessities => "WithholdsNecessities",
        MeansOfControl::WithholdsDocuments => "WithholdsDocuments",
        MeansOfControl::RestrictsMovement | MeansOfControl::Other => "Other",
    }
}

/// `vic_TypeOfExploitation`: CTDC's "sex and labour" is both; begging, a labour sector in
/// Harbour, is v2.0's `ForcedBegging`.
fn exploitation(kinds: &[ExploitationType], sectors: &[LabourSector]) -> Vec<&'static str> {
    let mut names = Vec::new();
    for kind in kinds {
        let these: &[&str] = match kind {
            ExploitationType::ForcedLabour => &["ForcedLabour"],
            ExploitationType::SexualExploitation => &["SexualExploitation"],
            ExploitationType::SexAndLabour => &["SexualExploitation", "ForcedLabour"],
            ExploitationType::ForcedMarriage => &["ForcedMarriage"],
            ExploitationType::ForcedMilitary => &["ForcedMilitaryByNonStateActors"],
            ExploitationType::OrganRemoval => &["OrganRemoval"],
            ExploitationType::SlaveryAndPractices => &["Servitude"],
            ExploitationType::Other => &["Other"],
        };
        names.extend_from_slice(these);
    }
    if sectors.contains(&LabourSector::Begging) {
        names.push("ForcedBegging");
    }
    distinct(names)
}

/// `vic_ForcedLabourIndustry`: ISIC rev. 4 sections. Begging (an exploitation type in v2.0),
/// illicit activities, other and not specified have no section.
fn industries(sectors: &[LabourSector]) -> Vec<&'static str> {
    distinct(
        sectors
            .iter()
            .filter_map(|sector| match sector {
                LabourSector::Agriculture | LabourSector::Aquafarming => Some("A_AgricultureForestryAndFishing"),
                LabourSector::MiningOrDrilling => Some("B_MiningAndQuarrying"),
                LabourSector::Manufacturing => Some("C_Manufacturing"),
                LabourSector::Construction => Some("F_Construction"),
                LabourSector::Peddling => Some("G_WholesaleAndRetailTradeRepairOfMotorVehicles"),
                LabourSector::Transportation => Some("H_TransportationAndStorage"),
                LabourSector::Hospitality => Some("I_AccommodationAndFoodServiceActivities"),
                LabourSector::DomesticWork => Some("T_ActivitiesOfHouseholdsAsEmployers"),
                LabourSector::Begging
                | LabourSector::IllicitActivities
                | LabourSector::Other
                | LabourSector::NotSpecified => None,
            })
            .collect(),
    )
}

fn distinct(mut names: Vec<&'static str>) -> Vec<&'static str> {
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|name| seen.insert(*name));
    names
}

/// A day known exactly, for the standard's date fields; anything vaguer stays in `harbour`.
fn exact_day(date: Option<&crate::model::ApproxDate>) -> Option<String> {
    let date = date?;
    (date.month.is_some() && date.day.is_some() && !date.approximate).then(|| date.earliest().to_string())
}

fn record(state: &CaseState, consent: &Consent) -> Value {
    let fields = &state.fields;
    let contact = consent.scope.contains(&ConsentScope::Contact);
    let mut person = json!({
        "prs_Birthdate": fields.birth_date.map(|day| day.to_string()),
        "prs_Gender": fields.sex.map(gender),
        "prs_Citizenship": fields.nationalities.iter().map(|country| country.as_str()).collect::<Vec<_>>(),
        "prs_PrimaryLanguage": fields.languages.first().map(|language| language.as_str()),
        "prs_SecondaryLanguage": fields.languages.get(1).map(|language| language.as_str()),
    });
    let mut own = json!({
        "case_code": state.code.as_str(),
        "full_name": fields.name,
        "aliases": fields.aliases,
        "estimated_age": fields.estimated_age.map(|age| json!({"years": age.years, "as_of": age.as_of.to_string()})),
        "languages": fields.languages.iter().map(|language| language.as_str()).collect::<Vec<_>>(),
        "consent": {"given_on": consent.given_on.to_string(), "scope": consent.scope.iter().map(|scope| scope.as_str()).collect::<Vec<_>>()},
        "identification_date": fields.identification_date.map(|day| day.to_string()),
        "date_opened": day_of(state.created.at_ms()),
    });
    if contact {
        person["prs_MobilePhone"] = json!(fields.phone.as_ref().map(|phone| phone.as_str()));
        own["location"] = json!(fields.location);
    }
    let victim = json!({
        "vic_TraffickingStatus": fields.identification_status.map(trafficking_status),
        "vic_TraffickingStatusDecisionMakingOrg": fields.identified_by.map(decision_making_org),
        "vic_RelationshipToTrafficker": fields.recruiter_relation.and_then(relationship),
        "vic_MethodOfRecruitment": distinct(fields.recruitment_methods.iter().filter_map(|method| recruitment(*method)).collect()),
        "vic_MethodsOfControl": distinct(fields.means_of_control.iter().map(|means| control(*means)).collect()),
        "vic_TypeOfExploitation": exploitation(&fields.exploitation_types, &fields.labour_sectors),
        "vic_ForcedLabourIndustry": industries(&fields.labour_sectors),
    });
    let mut events: Vec<Value> = state
        .process
        .iter()
        .map(|dated| {
            let event = &dated.entry;
            let mut value = json!({
                "hte_Type": event.stage.standard_code(),
                "hte_Country": event.country.as_str(),
                "hte_Date": exact_day(event.from.as_ref()),
                "harbour": {"from": event.from.map(String::from), "to": event.to.map(String::from)},
            });
            if contact {
                value["harbour"]["place"] = json!(event.place);
            }
            value
        })
        .collect();
    // The country of exploitation is, in the standard, an exploitation event's country.
    if let Some(country) = &fields.country_of_exploitation {
        let listed = state.process.iter().any(|dated| {
            dated.entry.stage == crate::model::ProcessStage::Exploitation && dated.entry.country == *country
        });
        if !listed {
            events.push(json!({"hte_Type": "Exploitation", "hte_Country": country.as_str()}));
        }
    }
    let perpetrators: Vec<Value> = state
        .perpetrators
        .iter()
        .map(|dated| {
            let perpetrator = &dated.entry;
            json!({
                "per_RoleInProcess": perpetrator.roles.iter().map(|role| role.standard_code()).collect::<Vec<_>>(),
                "prs_Gender": perpetrator.sex.map(gender),
                "prs_Citizenship": perpetrator.nationality.as_ref().map(|country| vec![country.as_str()]).unwrap_or_default(),
                "harbour": {"relationship_to_victim": perpetrator.relationship.map(|relation| relation.as_str())},
            })
        })
        .collect();
    let referrals: Vec<Value> = state
        .referrals
        .iter()
        .map(|referral| {
            json!({
                "cas_ReferredOrganisation": referral.referral.service,
                "cas_OutgoingReferralDate": day_of(referral.recorded.at_ms()),
                "cas_ReasonForOutgoingReferral": referral.referral.reason.standard_code(),
                "harbour": {"status": referral.status.as_str()},
            })
        })
        .collect();
    json!({
        "prs": person,
        "vic": victim,
        "con": {"con_Consent": true},
        "hte": events,
        "per": perpetrators,
        "cas": {"cas_Status": fields.status.standard_code()},
        "outgoing_referrals": referrals,
        "harbour": own,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CaseStatus, PerpetratorRole, ProcessStage, ReferralReason};

    /// Every value list the export maps into: each value written is one the standard lists.
    #[test]
    fn every_value_written_is_a_value_name_of_htcds_v2() {
        const GENDER: &[&str] = &[
            "Feminine",
            "Masculine",
            "TransgenderFeminine",
            "TransgenderMasculine",
            "NonConforming",
            "NonSpecifiedUnknown",
        ];
        const STATUS: &[&str] =
            &["PossibleVictimOfTrafficking", "ActualVictimOfTrafficking", "NotAVictimOfTrafficking"];
        const ORG: &[&str] = &["Police", "NGO", "CourtOrProsecution", "NonPoliceGovernmentalOrganization", "Other"];
        const RELATION: &[&str] = &["Familial", "Acquainted", "Unaquainted"];
        const RECRUITMENT: &[&str] = &[
            "AtAPlaceOfBusiness",
            "AtAnEducationalInstitution",
            "AtWork",
            "ThroughOnlineSocialNetworks",
            "ThroughAnOnlineAdvertisement",
            "ThroughATelevisionAdvert",
            "ThroughANewspaperAdvert",
            "ThroughFamilyOrFamilyEvents",
            "ThroughFriendsOrSocialEvents",
            "Other",
        ];
        const CONTROL: &[&str] = &[
            "PhysicalThreats",
            "ThreatsLawEnforcement",
            "ThreatensChildrenFamily",
            "DebtBondage",
            "FalsePromises",
            "PhysicalAbuse",
            "SexualAbuse",
            "TakesEarnings",
            "RestrictsFinancialAccess",
            "RestrictsMedicalCare",
            "WithholdsNecessities",
            "PsychologicalAbuse",
            "PsychoactiveSubstance",
            "ExcessiveWorkingHours",
            "WithholdsDocuments",
            "Other",
        ];
        const EXPLOITATION: &[&str] = &[
            "ForcedLabour",
            "SexualExploitation",
            "ChildLabour",
            "ForcedMarriage",
            "Servitude",
            "ForcedMilitaryByNonStateActors",
            "OrganRemoval",
            "ForcedBegging",
            "ForcedAdoption",
            "Surrogacy",
            "Other",
        ];
        const ROLES: &[&str] = &[
            "TravellingPartner",
            "Transporter",
            "RecruiterOrIntermediary",
            "BrokerTravelAgent",
            "TransferredIndividual",
            "HarbouredIndividual",
            "SoldIndividual",
            "BoughtIndividual",
            "ReceivedIndividual",
            "ControlledIndividual",
            "Smuggler",
            "Abuser",
            "Kidnapper",
            "Exploiter",
            "Other",
        ];
        for value in Sex::ALL {
            assert!(GENDER.contains(&gender(*value)));
        }
        for value in IdentificationStatus::ALL {
            assert!(STATUS.contains(&trafficking_status(*value)));
        }
        for value in OrganisationType::ALL {
            assert!(ORG.contains(&decision_making_org(*value)));
        }
        for value in RecruiterRelation::ALL {
            assert!(relationship(*value).is_none_or(|name| RELATION.contains(&name)));
        }
        for value in RecruitmentMethod::ALL {
            assert!(recruitment(*value).is_none_or(|name| RECRUITMENT.contains(&name)));
        }
        for value in MeansOfControl::ALL {
            assert!(CONTROL.contains(&control(*value)), "{value:?}");
        }
        for name in exploitation(ExploitationType::ALL, LabourSector::ALL) {
            assert!(EXPLOITATION.contains(&name), "{name}");
        }
        for name in industries(LabourSector::ALL) {
            let (section, _) = name.split_once('_').unwrap();
            assert!(section.len() == 1 && ('A'..='U').contains(&section.chars().next().unwrap()), "{name}");
        }
        for value in PerpetratorRole::ALL {
            assert!(ROLES.contains(&value.standard_code()));
        }
        for value in CaseStatus::ALL {
            assert!(["Active", "FollowUp", "Closed", "ClosedReferred"].contains(&value.standard_code()));
        }
        for value in ReferralReason::ALL {
            assert!(
                ["AdditionalServicesRequired", "MigrationOrChangeOfLocation", "Other"].contains(&value.standard_code())
            );
        }
        for value in ProcessStage::ALL {
            assert!(["Recruitment", "Transit", "Exploitation"].contains(&value.standard_code()));
        }
    }
}
