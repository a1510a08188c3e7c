//! Screening forms, recording a screening, drafts of work on screen, the service directory.

use harbour_core::directory::{Directory, Service};
use harbour_core::forms::{Answers, BUILTIN_FORMS, Form, FormLibrary, Lang, ScreeningResult};
use harbour_core::{CaseState, EntryId};
use serde::Serialize;
use serde_json::Value;
use tauri::State;

use super::cases::change;
use crate::error::{CommandError, CommandResult};
use crate::state::{Session, SyncRunner};

#[derive(Serialize)]
pub struct FormSummary {
    pub id: String,
    pub version: u32,
    pub title: Value,
    pub description: Value,
}

#[derive(Serialize)]
pub struct Recorded {
    pub result: ScreeningResult,
    /// Services of the directory for the kinds of help the result suggests, most pressing first.
    pub suggested: Vec<Service>,
    pub case: CaseState,
}

/// The forms in the order Harbour ships them (the short clinic screening first), so a first
/// day starts with the right one.
#[tauri::command(async)]
pub fn list_forms() -> Vec<FormSummary> {
    let rank = |id: &str| {
        BUILTIN_FORMS.iter().position(|(file, _)| file.strip_prefix(id).is_some_and(|rest| rest.starts_with(".v")))
    };
    let mut forms = FormLibrary::shipped().latest_forms();
    forms.sort_by_key(|form| (rank(&form.id).unwrap_or(usize::MAX), form.id.clone()));
    forms
        .into_iter()
        .map(|form| FormSummary {
            id: form.id.clone(),
            version: form.version,
            title: serde_json::to_value(&form.title).unwrap_or_default(),
            description: serde_json::to_value(&form.description).unwrap_or_default(),
        })
        .collect()
}

/// The latest version of a form, or the version `version` (a screening is read with the version
/// it was filled with).
#[tauri::command(async)]
pub fn get_form(id: String, version: Option<u32>) -> CommandResult<Form> {
    let library = FormLibrary::shipped();
    let form = match version {
        Some(version) => library.get(&id, version),
        None => library.latest(&id),
    };
    form.cloned().ok_or_else(|| unknown_form(&id))
}

#[tauri::command(async)]
pub fn record_screening(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    form: String,
    answers: Answers,
    lang: String,
) -> CommandResult<Recorded> {
    let form = FormLibrary::shipped().latest(&form).ok_or_else(|| unknown_form(&form))?;
    let lang = Lang::parse(&lang).ok_or_else(|| CommandError::invalid("lang", "choose en, es or fr"))?;
    change(&session, &sync, &id, |workspace, case_id| {
        let (_, result, case) = workspace.record_screening(case_id, form, answers, lang)?;
        let directory = workspace.service_directory()?;
        let suggested = directory.suggest(&result).into_iter().cloned().collect();
        Ok(Recorded { result, suggested, case })
    })
}

/// Takes the result of the screening `screening` into the case `id` (`Workspace::take_screening_result`):
/// one ordinary edit of the risk level, exploitation types and means of control it adds.
#[tauri::command(async)]
pub fn take_screening_result(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    screening: EntryId,
) -> CommandResult<CaseState> {
    change(&session, &sync, &id, |workspace, case_id| workspace.take_screening_result(case_id, screening))
}

#[tauri::command(async)]
pub fn save_draft(session: State<'_, Session>, key: String, value: Value) -> CommandResult<()> {
    let text = serde_json::to_string(&value).map_err(|error| CommandError::internal(error.to_string()))?;
    session.with(|workspace| workspace.save_draft(&key, &text))
}

#[tauri::command(async)]
pub fn load_draft(session: State<'_, Session>, key: String) -> CommandResult<Option<Value>> {
    let text = session.with(|workspace| workspace.draft(&key))?;
    // A draft that no longer reads (written by an older interface) is dropped, not fatal.
    Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
}

#[tauri::command(async)]
pub fn discard_draft(session: State<'_, Session>, key: String) -> CommandResult<()> {
    session.with(|workspace| workspace.discard_draft(&key))
}

#[tauri::command(async)]
pub fn service_directory(session: State<'_, Session>) -> CommandResult<Directory> {
    session.with(|workspace| workspace.service_directory())
}

/// Whether this laptop may edit the service directory (standalone, or the administrator's).
#[tauri::command(async)]
pub fn may_edit_directory(session: State<'_, Session>) -> CommandResult<bool> {
    session.with(|workspace| Ok(workspace.may_edit_directory()))
}

/// The services another administrator changed while this laptop's administrator changed them
/// too: kept as published, to check (ids).
#[tauri::command(async)]
pub fn service_directory_to_check(session: State<'_, Session>) -> CommandResult<Vec<String>> {
    session.with(|workspace| workspace.service_directory_to_check())
}

/// The administrator checked every service listed by `service_directory_to_check`.
#[tauri::command(async)]
pub fn service_directory_checked(session: State<'_, Session>) -> CommandResult<()> {
    session.with(|workspace| workspace.service_directory_checked(None))
}

/// A team of the organisation, as the directory editor offers it for a service.
#[derive(serde::Serialize)]
pub struct TeamChoice {
    pub id: String,
    pub name: String,
}

/// The organisation's teams, by name (none on a laptop outside an organisation): a service
/// can be linked to the team whose laptops receive its referrals.
#[tauri::command(async)]
pub fn directory_teams(session: State<'_, Session>) -> CommandResult<Vec<TeamChoice>> {
    session.with(|workspace| {
        let mut teams: Vec<TeamChoice> = workspace
            .directory()?
            .map(|directory| directory.teams)
            .unwrap_or_default()
            .into_iter()
            .map(|team| TeamChoice { id: team.id.to_string(), name: team.name })
            .collect();
        teams.sort_by_key(|team| team.name.to_lowercase());
        Ok(teams)
    })
}

/// Adds or replaces one service (by its id); returns the new directory.
#[tauri::command(async)]
pub fn save_service(session: State<'_, Session>, service: Service) -> CommandResult<Directory> {
    session.with(|workspace| workspace.save_service(service))
}

fn unknown_form(id: &str) -> CommandError {
    CommandError::new("not_found", format!("There is no screening form \"{id}\" in this version of Harbour."))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clinic_screening_is_offered_first() {
        let ids: Vec<String> = super::list_forms().into_iter().map(|form| form.id).collect();
        assert_eq!(ids, ["clinic-screening", "consular-intake", "case-assessment"]);
    }
}
