//! The task force's facts on a case (issue 12, item 1): the stages of the trafficking process,
//! the justice response, perpetrators (coded, never named) and the services received. Each
//! command reads the form's text with the parsers the command line uses (`harbour process add`,
//! `justice add`, `perpetrator add`, `service add`) and records through the same core function,
//! which checks, seals and audits it. The identification fields are case fields: the interface
//! sets them with `update_case`.
//!
//! Every refused value of a form comes back at once (`CommandError::faults`), each under the
//! form's own name for the field (`stage`, `country`, `from` …), so the interface marks it.

use harbour_core::model::{
    ApproxDate, Country, Fault, JusticeStage, PerpetratorRole, ProcessStage, RecruiterRelation, ServiceType, Sex,
    case::coded, values,
};
use harbour_core::{EntryId, JusticeInput, PerpetratorInput, ProcessInput};
use serde::Deserialize;
use tauri::State;

use super::cases::{EntryAdded, change};
use crate::error::{CommandError, CommandResult};
use crate::state::{Session, SyncRunner};

#[derive(Deserialize)]
pub struct ProcessForm {
    pub stage: String,
    pub country: String,
    pub place: Option<String>,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, `~` in front when approximate (as the CLI's `--from`).
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Deserialize)]
pub struct JusticeForm {
    pub stage: String,
    pub date: Option<String>,
    pub perpetrator: Option<String>,
    /// Months of imprisonment, for a conviction.
    pub sentence: Option<String>,
}

#[derive(Deserialize)]
pub struct PerpetratorForm {
    pub roles: Vec<String>,
    pub sex: Option<String>,
    pub nationality: Option<String>,
    pub relationship: Option<String>,
}

#[derive(Deserialize)]
pub struct ServiceForm {
    pub service_type: String,
    pub date: String,
    pub until: Option<String>,
}

#[tauri::command(async)]
pub fn add_process_event(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    input: ProcessForm,
) -> CommandResult<EntryAdded> {
    let mut refused = Refused::default();
    let stage = refused.take(coded::<ProcessStage>("stage", &input.stage));
    let country = refused.take(Country::parse_for("country", &input.country));
    let from = refused.take(given(input.from).map(|text| ApproxDate::parse("from", &text)).transpose());
    let to = refused.take(given(input.to).map(|text| ApproxDate::parse("to", &text)).transpose());
    refused.check()?;
    let input = ProcessInput {
        stage: stage.expect("checked"),
        country: country.expect("checked"),
        place: given(input.place),
        from: from.expect("checked"),
        to: to.expect("checked"),
    };
    let (entry_id, case) =
        change(&session, &sync, &id, |workspace, case_id| workspace.add_process_event(case_id, input))?;
    Ok(EntryAdded { entry_id, case })
}

#[tauri::command(async)]
pub fn add_justice_step(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    input: JusticeForm,
) -> CommandResult<EntryAdded> {
    let mut refused = Refused::default();
    let stage = refused.take(coded::<JusticeStage>("stage", &input.stage));
    let date = refused.take(given(input.date).map(|text| values::parse_past_date("date", &text)).transpose());
    let perpetrator = refused.take(given(input.perpetrator).map(|text| entry_id("perpetrator", &text)).transpose());
    let sentence = refused.take(given(input.sentence).map(|text| months("sentence", &text)).transpose());
    refused.check()?;
    let input = JusticeInput {
        stage: stage.expect("checked"),
        date: date.expect("checked"),
        perpetrator: perpetrator.expect("checked"),
        sentence_months: sentence.expect("checked"),
    };
    let (entry_id, case) =
        change(&session, &sync, &id, |workspace, case_id| workspace.add_justice_step(case_id, input))?;
    Ok(EntryAdded { entry_id, case })
}

#[tauri::command(async)]
pub fn add_perpetrator(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    input: PerpetratorForm,
) -> CommandResult<EntryAdded> {
    let mut refused = Refused::default();
    let roles = refused.take(
        input
            .roles
            .iter()
            .filter(|role| !role.trim().is_empty())
            .map(|role| coded::<PerpetratorRole>("roles", role))
            .collect::<Result<Vec<_>, _>>(),
    );
    let sex = refused.take(given(input.sex).map(|text| coded::<Sex>("sex", &text)).transpose());
    // Not `nationality`: that name is the case's own field (`nationalities`) to the interface.
    let nationality = refused
        .take(given(input.nationality).map(|text| Country::parse_for("perpetrator_nationality", &text)).transpose());
    let relationship = refused
        .take(given(input.relationship).map(|text| coded::<RecruiterRelation>("relationship", &text)).transpose());
    refused.check()?;
    let input = PerpetratorInput {
        roles: roles.expect("checked"),
        sex: sex.expect("checked"),
        nationality: nationality.expect("checked"),
        relationship: relationship.expect("checked"),
    };
    let (entry_id, case) = change(&session, &sync, &id, |workspace, case_id| {
        workspace.add_perpetrator(case_id, input).map_err(|error| renamed(error, "role", "roles"))
    })?;
    Ok(EntryAdded { entry_id, case })
}

#[tauri::command(async)]
pub fn add_service_received(
    session: State<'_, Session>,
    sync: State<'_, SyncRunner>,
    id: String,
    input: ServiceForm,
) -> CommandResult<EntryAdded> {
    let mut refused = Refused::default();
    let service_type = refused.take(coded::<ServiceType>("service_type", &input.service_type));
    let date = refused.take(match given(Some(input.date)) {
        Some(text) => values::parse_past_date("date", &text),
        None => Err(harbour_core::Error::refused("date", Fault::Empty, "give the day the service started")),
    });
    let until = refused.take(given(input.until).map(|text| values::parse_past_date("until", &text)).transpose());
    refused.check()?;
    let (service_type, date, until) = (service_type.expect("checked"), date.expect("checked"), until.expect("checked"));
    let (entry_id, case) = change(&session, &sync, &id, |workspace, case_id| {
        workspace.add_service_received(case_id, service_type, date, until)
    })?;
    Ok(EntryAdded { entry_id, case })
}

/// The refusals of one form, gathered so that all are shown at once.
#[derive(Default)]
struct Refused(Vec<harbour_core::Error>);

impl Refused {
    fn take<T>(&mut self, parsed: harbour_core::Result<T>) -> Option<T> {
        parsed.map_err(|error| self.0.push(error)).ok()
    }

    fn check(self) -> CommandResult<()> {
        if self.0.is_empty() { Ok(()) } else { Err(CommandError::all_invalid(self.0)) }
    }
}

/// Text that was typed, trimmed; nothing for an empty field.
fn given(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty())
}

fn entry_id(field: &str, text: &str) -> harbour_core::Result<EntryId> {
    text.parse::<EntryId>().map_err(|_| {
        harbour_core::Error::refused(field, Fault::NotAllowed, "choose one of the perpetrators recorded on the case")
    })
}

fn months(field: &str, text: &str) -> harbour_core::Result<u32> {
    text.parse::<u32>().map_err(|_| {
        harbour_core::Error::refused(field, Fault::NotANumber, "give the sentence as a whole number of months")
    })
}

/// Core's refusal named as the form names the field.
fn renamed(error: harbour_core::Error, from: &str, to: &str) -> harbour_core::Error {
    match error {
        harbour_core::Error::Invalid { field, problem, fault } if field == from => {
            harbour_core::Error::Invalid { field: to.to_owned(), problem, fault }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_of_a_form_is_gathered_with_its_fault() {
        let mut refused = Refused::default();
        assert_eq!(refused.take(coded::<ProcessStage>("stage", "recruitment")), Some(ProcessStage::Recruitment));
        assert!(refused.take(Country::parse_for("country", "XX")).is_none());
        assert!(refused.take(ApproxDate::parse("from", "2999")).is_none());
        assert!(refused.take(months("sentence", "a year")).is_none());
        let error = refused.check().unwrap_err();
        let faults: Vec<(&str, &str)> =
            error.faults.iter().map(|fault| (fault.field.as_str(), fault.fault.code())).collect();
        assert_eq!(faults, [("country", "not_a_country"), ("from", "date_in_future"), ("sentence", "not_a_number")]);
        assert!(Refused::default().check().is_ok());
    }

    #[test]
    fn an_approximate_date_that_is_not_one_is_a_fault() {
        let error = CommandError::from(ApproxDate::parse("to", "May 2023").unwrap_err());
        assert_eq!((error.field.as_deref(), error.faults[0].fault.code()), (Some("to"), "not_a_partial_date"));
        assert_eq!(given(Some("  ".into())), None);
        assert_eq!(given(Some(" ~2023-05 ".into())).as_deref(), Some("~2023-05"));
    }
}
