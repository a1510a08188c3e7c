//! Cases: the list, a case's page, creating and editing, entries (notes, consents, referrals).

use std::collections::BTreeMap;

use harbour_core::model::{
    CaseFields, CaseStatus, ConsentMethod, ConsentScope, Country, ExploitationType, Field, FieldValue,
    IdentificationStatus, JusticeStage, Language, MeansOfControl, OrganisationType, PerpetratorRole, ProcessStage,
    RecruiterRelation, RecruitmentMethod, ReferralReason, ReferralStatus, RiskLevel, ServiceType, Sex, Urgency,
    case::coded, values,
};
use harbour_core::store::{CaseSuggestion, ClockWarning};
use harbour_core::{
    CaseId, CaseQuery, CaseState, CaseSummary, ConsentInput, EntryId, EventId, ReferralInput, Workspace,
};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::{Session, SyncRunner};

/// Rows the list returns at most: the interface shows the first ones and asks for a narrower
/// search, so the list stays instant with 100,000 cases.
pub const MAX_LIST: usize = 1000;
const DEFAULT_LIST: usize = 200;

#[derive(Serialize)]
pub struct Choice {
    pub value: &'static str,
    pub code: &'static str,
    pub label: &'static str,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub search: Option<String>,
    pub status: Option<String>,
    pub team: Option<String>,
    pub needs_review: bool,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Serialize)]
pub struct CaseList {
    pub cases: Vec<CaseSummary>,
    pub total: i64,
}

#[derive(Serialize)]
pub struct CasePage {
    pub case: CaseState,
    pub clock_warnings: Vec<ClockWarning>,
    /// None of the case has left this laptop: it can still be discarded.
    pub can_discard: bool,
    /// How far each referral's latest change got (`waiting`, `sent_to_server`, `received`,
    /// `delivered`).
    pub referral_delivery: BTreeMap<EntryId, harbour_core::store::Delivery>,
    /// The Harbour team each referral goes to, by name (a referral to a service outside
    /// Harbour has none).
    pub referral_teams: BTreeMap<EntryId, String>,
    /// What the latest screening's result would add to the case, until it is taken (or none).
    pub suggestion: Option<CaseSuggestion>,
}

#[derive(Serialize)]
pub struct EntryAdded {
    pub entry_id: EntryId,
    pub case: CaseState,
}

#[derive(Deserialize)]
pub struct ConsentForm {
    pub scope: Vec<String>,
    pub shared_with: String,
    pub given_on: Option<String>,
    pub method: String,
    pub note: Option<String>,
}

#[derive(Deserialize)]
pub struct ReferralForm {
    pub service: String,
    pub service_type: String,
    pub reason: String,
    pub urgency: String,
    pub details: Option<String>,
    pub consent_id: String,
    pub team: Option<String>,
}

#[tauri::command(async)]
pub fn value_lists() -> BTreeMap<&'static str, Vec<Choice>> {
    macro_rules! coded_list {
        ($type:ty) => {
            <$type>::ALL
                .iter()
                .map(|value| Choice { value: value.as_str(), code: value.standard_code(), label: value.label() })
                .collect::<Vec<_>>()
        };
    }
    let plain = |values: &mut dyn Iterator<Item = &'static str>| {
        values.map(|value| Choice { value, code: value, label: value }).collect::<Vec<_>>()
    };
    BTreeMap::from([
        ("sex", coded_list!(Sex)),
        ("case_status", coded_list!(CaseStatus)),
        ("risk_level", coded_list!(RiskLevel)),
        ("exploitation_type", coded_list!(ExploitationType)),
        ("means_of_control", coded_list!(MeansOfControl)),
        ("service_type", coded_list!(ServiceType)),
        ("urgency", coded_list!(Urgency)),
        ("referral_reason", coded_list!(ReferralReason)),
        // The task force's facts (the case page's "Identification and justice").
        ("identification_status", coded_list!(IdentificationStatus)),
        ("organisation_type", coded_list!(OrganisationType)),
        ("recruiter_relation", coded_list!(RecruiterRelation)),
        ("recruitment_method", coded_list!(RecruitmentMethod)),
        ("process_stage", coded_list!(ProcessStage)),
        ("justice_stage", coded_list!(JusticeStage)),
        ("perpetrator_role", coded_list!(PerpetratorRole)),
        (
            "referral_status",
            plain(
                &mut [
                    ReferralStatus::Sent,
                    ReferralStatus::Accepted,
                    ReferralStatus::Declined,
                    ReferralStatus::Completed,
                ]
                .into_iter()
                .map(ReferralStatus::as_str),
            ),
        ),
        ("consent_scope", plain(&mut ConsentScope::ALL.iter().map(|scope| scope.as_str()))),
        ("consent_method", plain(&mut ["verbal", "written"].into_iter())),
        ("country", plain(&mut Country::all())),
        ("language", plain(&mut Language::all())),
    ])
}

#[tauri::command(async)]
pub fn list_cases(session: State<'_, Session>, query: ListQuery) -> CommandResult<CaseList> {
    let query = CaseQuery {
        search: query.search.filter(|text| !text.trim().is_empty()),
        status: query.status.filter(|text| !text.is_empty()).map(|text| coded("status", &text)).transpose()?,
        team: query.team.filter(|text| !text.is_empty()),
        updated_from: query.from.filter(|text| !text.is_empty()).map(|text| date("from", &text)).transpose()?,
        updated_to: query.to.filter(|text| !text.is_empty()).map(|text| date("to", &text)).transpose()?,
        needs_review: query.needs_review,
        limit: query.limit.unwrap_or(DEFAULT_LIST).clamp(1, MAX_LIST),
    };
    session.with(|workspace| Ok(CaseList { cases: workspace.list_cases(&query)?, total: workspace.case_count()? }))
}

#[tauri::command(async)]
pub fn get_case(session: State<'_, Session>, id: String) -> CommandResult<CasePage> {
    case_page(&session, &id, Workspace::view_case)
}

/// The whole case after the person on this laptop changed it, to redraw its page: no second
/// view in the audit log when the change's own entry is the newest (`Workspace::case_after_change`).
#[tauri::command(async)]
pub fn get_case_after_change(session: State<'_, Session>, id: String) -> CommandResult<CasePage> {
    case_page(&session, &id, Workspace::case_after_change)
}

/// A case's page, read with `read` (which decides what the audit log records).
fn case_page(
    session: &Session,
    id: &str,
    read: fn(&mut Workspace, CaseId) -> harbour_core::Result<CaseState>,
) -> CommandResult<CasePage> {
    session.with(|workspace| {
        let case_id = workspace.resolve(id)?;
        let case = read(workspace, case_id)?;
        let can_discard = workspace.discard_check(case_id)?.is_none();
        let referral_delivery = workspace.referral_deliveries(&case)?;
        let referral_teams = workspace.referral_teams(&case)?;
        let suggestion = CaseSuggestion::latest(&case);
        Ok(CasePage {
            case,
            clock_warnings: workspace.clock_warnings(case_id)?,
            can_discard,
            referral_delivery,
            referral_teams,
            suggestion,
        })
    })
}

#[tauri::command(async)]
pub fn check_duplicates(
    session: State<'_, Session>,
    fields: BTreeMap<String, String>,
) -> CommandResult<Vec<harbour_core::store::DuplicateCandidate>> {
    let fields = case_fields(&fields)?;
    session.with(|workspace| workspace.likely_duplicates(&fields))
}

#[tauri::command(async)]
pub fn create_case(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    fields: BTreeMap<String, String>,
) -> CommandResult<CaseState> {
    let fields = case_fields(&fields)?;
    let state = session.with(|workspace| workspace.create_case(fields))?;
    sync.wake();
    Ok(state)
}

#[tauri::command(async)]
pub fn update_case(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    values: BTreeMap<String, String>,
    reason: Option<String>,
) -> CommandResult<CaseState> {
    let values = field_values(values.iter().map(|(field, text)| (field.as_str(), text.as_str())))?;
    change(&session, &sync, &id, |workspace, case_id| {
        workspace.update_case(case_id, values, reason.filter(|text| !text.trim().is_empty()))
    })
}

#[tauri::command(async)]
pub fn close_case(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    reason: String,
    referred: bool,
    in_error: Option<bool>,
) -> CommandResult<CaseState> {
    change(&session, &sync, &id, |workspace, case_id| match in_error {
        Some(true) => workspace.close_in_error(case_id),
        _ => workspace.close_case(case_id, &reason, referred),
    })
}

/// Deletes a case created by mistake that never left this laptop (`Workspace::discard_case`).
/// A case whose changes a running sync has already taken to send is refused by core in the
/// same transaction as the deletion (`not_discardable`), so no sync can slip in between.
#[tauri::command(async)]
pub fn discard_case(session: State<'_, Session>, id: String) -> CommandResult<()> {
    session.with(|workspace| {
        let case_id = workspace.resolve(&id)?;
        workspace.discard_case(case_id)
    })
}

#[tauri::command(async)]
pub fn reopen_case(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    reason: String,
) -> CommandResult<CaseState> {
    change(&session, &sync, &id, |workspace, case_id| workspace.reopen_case(case_id, &reason))
}

#[tauri::command(async)]
pub fn resolve_conflict(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    field: String,
    keep: String,
) -> CommandResult<CaseState> {
    let field = Field::parse(&field)?;
    let keep =
        keep.parse::<EventId>().map_err(|_| CommandError::invalid("keep", "choose one of the versions shown"))?;
    change(&session, &sync, &id, |workspace, case_id| workspace.resolve_conflict(case_id, field, keep))
}

#[tauri::command(async)]
pub fn add_note(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    text: String,
) -> CommandResult<EntryAdded> {
    let (entry_id, case) = change(&session, &sync, &id, |workspace, case_id| workspace.add_note(case_id, &text))?;
    Ok(EntryAdded { entry_id, case })
}

#[tauri::command(async)]
pub fn add_consent(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    input: ConsentForm,
) -> CommandResult<EntryAdded> {
    let input = ConsentInput {
        scope: input.scope.iter().map(|scope| ConsentScope::parse(scope)).collect::<Result<_, _>>()?,
        shared_with: input.shared_with,
        given_on: match input.given_on.filter(|text| !text.is_empty()) {
            Some(text) => values::parse_past_date("given_on", &text)?,
            None => chrono::Utc::now().date_naive(),
        },
        method: ConsentMethod::parse(&input.method)?,
        note: input.note.filter(|text| !text.trim().is_empty()),
    };
    let (entry_id, case) = change(&session, &sync, &id, |workspace, case_id| workspace.add_consent(case_id, input))?;
    Ok(EntryAdded { entry_id, case })
}

#[tauri::command(async)]
pub fn add_referral(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    input: ReferralForm,
) -> CommandResult<EntryAdded> {
    let referral = ReferralInput {
        service: input.service,
        service_type: coded::<ServiceType>("service_type", &input.service_type)?,
        reason: coded::<ReferralReason>("reason", &input.reason)?,
        details: input.details.filter(|text| !text.trim().is_empty()),
        urgency: coded::<Urgency>("urgency", &input.urgency)?,
        consent_id: entry_id("consent_id", &input.consent_id)?,
        // A referral to a team in Harbour (chosen, or named by the service directory) grants
        // it the case; an unknown team refuses the referral before it is made.
        team: input.team.filter(|team| !team.trim().is_empty()),
    };
    let (entry_id, case) =
        change(&session, &sync, &id, |workspace, case_id| workspace.add_referral(case_id, referral))?;
    Ok(EntryAdded { entry_id, case })
}

/// How far each referral of case `id` got, asked again by an open case page after a sync (not
/// a view of the case: it carries none of its content).
#[tauri::command(async)]
pub fn referral_news(session: State<'_, Session>, id: String) -> CommandResult<harbour_core::store::ReferralNews> {
    session.with(|workspace| {
        let case_id = workspace.resolve(&id)?;
        workspace.referral_news(case_id)
    })
}

#[tauri::command(async)]
pub fn set_referral_status(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    referral: String,
    status: String,
    note: Option<String>,
) -> CommandResult<CaseState> {
    let referral = entry_id("referral", &referral)?;
    let status = ReferralStatus::parse(&status)?;
    change(&session, &sync, &id, |workspace, case_id| {
        workspace.set_referral_status(case_id, referral, status, note.as_deref().filter(|text| !text.trim().is_empty()))
    })
}

#[tauri::command(async)]
pub fn referral_packet(
    session: State<'_, Session>,
    id: String,
    referral: String,
) -> CommandResult<harbour_core::store::ReferralPacket> {
    let referral = entry_id("referral", &referral)?;
    session.with(|workspace| {
        let case_id = workspace.resolve(&id)?;
        workspace.referral_packet(case_id, referral)
    })
}

/// Runs a change on the case `id` (an id or a case code), then asks the background sync to
/// send it.
pub(crate) fn change<T>(
    session: &Session,
    sync: &SyncRunner,
    id: &str,
    f: impl FnOnce(&mut Workspace, CaseId) -> harbour_core::Result<T>,
) -> CommandResult<T> {
    let changed = session.with(|workspace| {
        let case_id = workspace.resolve(id)?;
        f(workspace, case_id)
    })?;
    sync.wake();
    Ok(changed)
}

/// A new case's fields from the form: the name is required, empty fields are left unset, and
/// each value is checked as the command line checks it.
pub fn case_fields(fields: &BTreeMap<String, String>) -> CommandResult<CaseFields> {
    let name = fields.get("name").map(String::as_str).unwrap_or_default();
    let named = CaseFields::named(name);
    let rest = field_values(
        fields
            .iter()
            .filter(|(field, text)| field.as_str() != "name" && !text.trim().is_empty())
            .map(|(field, text)| (field.as_str(), text.as_str())),
    );
    match (named, rest) {
        (Ok(mut case), Ok(values)) => {
            for value in values {
                case.set(value);
            }
            Ok(case)
        }
        (Err(name), Ok(_)) => Err(name.into()),
        (Ok(_), Err(rest)) => Err(rest),
        (Err(name), Err(rest)) => {
            let mut error = CommandError::from(name);
            error.faults.extend(rest.faults);
            Err(error)
        }
    }
}

/// Reads every `field = text` of a form; refuses them all at once, in the order of the case's
/// fields, so the interface can mark each field that needs attention.
fn field_values<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> CommandResult<Vec<FieldValue>> {
    let mut values = Vec::new();
    let mut refused = Vec::new();
    for (field, text) in pairs {
        match Field::parse(field).and_then(|field| FieldValue::parse(field, text)) {
            Ok(value) => values.push(value),
            Err(error) => refused.push(error),
        }
    }
    if refused.is_empty() {
        return Ok(values);
    }
    let position = |error: &harbour_core::Error| match error {
        harbour_core::Error::Invalid { field, .. } => Field::parse(field)
            .map_or(usize::MAX, |field| Field::ALL.iter().position(|f| *f == field).unwrap_or(usize::MAX)),
        _ => usize::MAX,
    };
    refused.sort_by_key(position);
    Err(CommandError::all_invalid(refused))
}

fn entry_id(field: &str, text: &str) -> CommandResult<EntryId> {
    text.trim()
        .parse::<EntryId>()
        .map_err(|_| CommandError::invalid(field, "choose one of the entries shown on the case"))
}

fn date(field: &str, text: &str) -> CommandResult<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| CommandError::invalid(field, "give a date as YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(field, text)| (field.to_string(), text.to_string())).collect()
    }

    #[test]
    fn a_new_case_needs_a_name_and_valid_values() {
        let error = case_fields(&fields(&[("sex", "female")])).unwrap_err();
        assert_eq!((error.kind, error.field.as_deref()), ("invalid", Some("name")));
        let error = case_fields(&fields(&[("name", "A"), ("nationalities", "XX")])).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("nationalities"));
        let error = case_fields(&fields(&[("name", "A"), ("colour", "blue")])).unwrap_err();
        assert_eq!(error.kind, "invalid");
        let case = case_fields(&fields(&[("name", "A"), ("nationalities", "lc, ve"), ("sex", ""), ("age", "")]));
        // An empty value is left unset, whatever the field.
        let case = case.unwrap();
        assert_eq!(case.nationalities.len(), 2);
        assert_eq!(case.sex, None);
    }

    #[test]
    fn every_refused_field_comes_back_at_once_as_data() {
        let error = case_fields(&fields(&[
            ("name", " "),
            ("languages", "español"),
            ("birth_date", "2999-01-01"),
            ("nationalities", "LC"),
        ]))
        .unwrap_err();
        assert_eq!(error.kind, "invalid");
        let faults: Vec<(String, &str)> =
            error.faults.iter().map(|fault| (fault.field.clone(), fault.fault.code())).collect();
        assert_eq!(
            faults,
            [
                ("name".to_owned(), "empty"),
                ("birth_date".to_owned(), "date_in_future"),
                ("languages".to_owned(), "not_a_language")
            ]
        );
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["faults"][1], serde_json::json!({"field": "birth_date", "code": "date_in_future"}));
    }
}
