//! Errors as the interface receives them: a kind it can translate and a sentence a nurse can
//! act on. Nothing sensitive is ever put in a message (the core's messages name fields, never
//! their values). A refused typed value also comes as data (`faults`): the field's name and a
//! code the interface says in the worker's language, naming the field by its label.

use harbour_core::model::{Fault, Field};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandError {
    pub kind: &'static str,
    /// Core's English sentence: shown only when there is no fault to translate.
    pub message: String,
    /// The field at fault, for `invalid` (the first, when there are several).
    pub field: Option<String>,
    /// Every refused value of the form at once, in the form's order.
    pub faults: Vec<FieldFault>,
}

/// One refused value: which field (a case field's name, such as `birth_date`, or the form's
/// own name, such as `given_on`) and what was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldFault {
    pub field: String,
    #[serde(flatten)]
    pub fault: Fault,
}

pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> CommandError {
        CommandError { kind, message: message.into(), field: None, faults: Vec::new() }
    }

    /// Several refusals of one form as one error (each core error an `Invalid`; any other error
    /// is returned as it is).
    pub fn all_invalid(errors: Vec<harbour_core::Error>) -> CommandError {
        let mut combined: Option<CommandError> = None;
        for error in errors {
            let error = CommandError::from(error);
            if error.kind != "invalid" {
                return error;
            }
            match &mut combined {
                None => combined = Some(error),
                Some(first) => first.faults.extend(error.faults),
            }
        }
        combined.unwrap_or_else(|| CommandError::internal("no error to report"))
    }

    pub fn locked() -> CommandError {
        CommandError::new("locked", "Harbour is locked. Enter your passphrase to continue.")
    }

    pub fn invalid(field: &str, problem: impl Into<String>) -> CommandError {
        CommandError::from(harbour_core::Error::invalid(field, problem))
    }

    pub fn internal(message: impl Into<String>) -> CommandError {
        CommandError::new("internal", message)
    }
}

impl From<harbour_core::Error> for CommandError {
    fn from(error: harbour_core::Error) -> CommandError {
        use harbour_core::Error;
        let kind = match &error {
            Error::Invalid { field, fault, .. } => {
                // A refused value of the model names its case field as the command line does
                // (`nationality`, `age`); the interface knows it by the field's own name. Other
                // refusals (a setting's `language`) keep their name.
                let field = match fault {
                    Some(_) => Field::parse(field).map_or_else(|_| field.clone(), |known| known.as_str().to_owned()),
                    None => field.clone(),
                };
                let faults = fault.map(|fault| FieldFault { field: field.clone(), fault }).into_iter().collect();
                return CommandError { kind: "invalid", message: error.to_string(), field: Some(field), faults };
            }
            Error::WrongPassphrase => "wrong_passphrase",
            Error::NoWorkspace(_) => "no_workspace",
            Error::WorkspaceExists(_) => "workspace_exists",
            Error::CaseNotFound(_) => "not_found",
            Error::ChangeTooLarge { .. } => "too_large",
            _ => "internal",
        };
        let message = match &error {
            // The command-line wording ("create one with `harbour init`") does not fit the app.
            Error::NoWorkspace(_) => {
                "There is no Harbour on this laptop yet. Start a new one or join your organisation.".into()
            }
            Error::WorkspaceExists(_) => {
                "Harbour is already set up on this laptop. Unlock it with its passphrase.".into()
            }
            Error::CaseNotFound(_) => "This case is not on this laptop. Search for it in the case list.".into(),
            _ => error.to_string(),
        };
        CommandError { kind, message, field: None, faults: Vec::new() }
    }
}

impl From<harbour_sync::SyncError> for CommandError {
    fn from(error: harbour_sync::SyncError) -> CommandError {
        match error {
            harbour_sync::SyncError::Core(core) => core.into(),
            other => CommandError::new("sync", other.to_string()),
        }
    }
}

impl From<harbour_sync::client::ClientError> for CommandError {
    fn from(error: harbour_sync::client::ClientError) -> CommandError {
        CommandError::new("sync", error.to_string())
    }
}
