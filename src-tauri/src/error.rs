//! Errors as the interface receives them: a kind it can translate and a sentence a nurse can
//! act on. Nothing sensitive is ever put in a message (the core's messages name fields, never
//! their values).

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandError {
    pub kind: &'static str,
    pub message: String,
    /// The field at fault, for `invalid`.
    pub field: Option<String>,
}

pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> CommandError {
        CommandError { kind, message: message.into(), field: None }
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
            Error::Invalid { field, .. } => {
                return CommandError { kind: "invalid", message: error.to_string(), field: Some(field.clone()) };
            }
            Error::WrongPassphrase => "wrong_passphrase",
            Error::NoWorkspace(_) => "no_workspace",
            Error::WorkspaceExists(_) => "workspace_exists",
            Error::CaseNotFound(_) => "not_found",
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
        CommandError { kind, message, field: None }
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
