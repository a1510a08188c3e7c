//! Errors as the interface receives them: a kind it can translate and a sentence a nurse can
//! act on. Nothing sensitive is ever put in a message (the core's messages name fields, never
//! their values). A refused typed value also comes as data (`faults`): the field's name and a
//! code the interface says in the worker's language, naming the field by its label.

use harbour_core::model::{Fault, Field};
use harbour_sync::failure::Failure;
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
    /// For `sync`: why, as a code the interface says in its language (`sync.failure.<code>`).
    pub reason: Option<Failure>,
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
        CommandError { kind, message: message.into(), field: None, faults: Vec::new(), reason: None }
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

    /// A sync or server failure: the interface says `reason` in its language.
    pub fn sync(reason: Failure, message: impl Into<String>) -> CommandError {
        CommandError { reason: Some(reason), ..CommandError::new("sync", message) }
    }

    /// The figures a number was chosen on are no longer kept (Harbour was locked since they were
    /// shown): the interface works them out again and says so.
    pub fn figures_gone() -> CommandError {
        CommandError::new(
            "figures_gone",
            "These figures are no longer on screen: Harbour was locked since they were shown. Open them again, then choose the number.",
        )
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
                return CommandError {
                    kind: "invalid",
                    message: error.to_string(),
                    field: Some(field),
                    faults,
                    reason: None,
                };
            }
            other => kind_of(other),
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
        CommandError { kind, message, field: None, faults: Vec::new(), reason: None }
    }
}

/// Every `kind` a `CommandError` can have. The interface translates each (`ERROR_KEYS` in
/// `ui/js/i18n.js`); the test below checks that it does, in every language.
pub const KINDS: &[&str] = &[
    "invalid",
    "wrong_passphrase",
    "no_workspace",
    "workspace_exists",
    "not_found",
    "not_discardable",
    "already_referred",
    "figures_changed",
    "figures_gone",
    "directory_not_editable",
    "too_large",
    "file_exists",
    "export_passphrase",
    "locked",
    "sync",
    "internal",
];

/// The kind of a core error other than `Invalid`. No wildcard: a new core error must be given
/// a kind (and so a translation) here.
fn kind_of(error: &harbour_core::Error) -> &'static str {
    use harbour_core::Error;
    match error {
        Error::Invalid { .. } => "invalid",
        Error::WrongPassphrase => "wrong_passphrase",
        Error::NoWorkspace(_) => "no_workspace",
        Error::WorkspaceExists(_) => "workspace_exists",
        Error::CaseNotFound(_) => "not_found",
        Error::NotDiscardable { .. } => "not_discardable",
        Error::AlreadyReferred => "already_referred",
        Error::FiguresChanged { .. } => "figures_changed",
        Error::DirectoryNotEditable => "directory_not_editable",
        Error::ChangeTooLarge { .. } => "too_large",
        Error::FileExists(_) => "file_exists",
        // What a person cannot fix on the screen: the interface says so, and what to do.
        Error::NewerSchema { .. }
        | Error::Tampered
        | Error::MissingCaseKey(_)
        | Error::KeyFile { .. }
        | Error::AuditBroken(_)
        | Error::Io { .. }
        | Error::Database(_)
        | Error::SequenceTaken(_)
        // The desktop neither opens exports nor restores backups (the CLI does).
        | Error::ExportPassphrase
        | Error::NotAnExport(_)
        | Error::Damaged { .. }
        | Error::Corrupt(_) => "internal",
    }
}

impl From<harbour_sync::SyncError> for CommandError {
    fn from(error: harbour_sync::SyncError) -> CommandError {
        match error {
            harbour_sync::SyncError::Core(core) => core.into(),
            other => CommandError::sync(Failure::from(&other), other.to_string()),
        }
    }
}

impl From<harbour_sync::client::ClientError> for CommandError {
    fn from(error: harbour_sync::client::ClientError) -> CommandError {
        CommandError::sync(Failure::from(&error), error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use harbour_core::Error;
    use harbour_core::model::Fault;

    use super::*;

    /// `ERROR_KEYS` of ui/js/i18n.js: kind → key of strings.json.
    fn interface_error_keys() -> BTreeMap<String, String> {
        let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/js/i18n.js")).unwrap();
        let start = source.find("const ERROR_KEYS = {").expect("i18n.js has ERROR_KEYS");
        let body = &source[start..];
        let body = &body[..body.find("};").expect("ERROR_KEYS ends")];
        body.lines()
            .filter_map(|line| line.trim().trim_end_matches(',').split_once(": "))
            .map(|(kind, key)| (kind.trim().to_owned(), key.trim().trim_matches('"').to_owned()))
            .collect()
    }

    fn strings() -> serde_json::Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/i18n/strings.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn translated(strings: &serde_json::Value, key: &str) -> bool {
        ["en", "es", "fr"].iter().all(|lang| strings[key][lang].as_str().is_some_and(|text| !text.trim().is_empty()))
    }

    /// One error of every kind core returns (a database error aside: it cannot be made here
    /// without SQLite, and `kind_of` has no wildcard, so its kind is checked by the compiler).
    fn every_core_error() -> Vec<Error> {
        vec![
            Error::invalid("status", "the case is already closed"),
            Error::refused("birth_date", Fault::DateInFuture, "the date is in the future"),
            Error::WrongPassphrase,
            Error::NoWorkspace("/x".into()),
            Error::WorkspaceExists("/x".into()),
            Error::NewerSchema { found: 9, known: 5 },
            Error::CaseNotFound("LC-XXXX-XX".into()),
            Error::Tampered,
            Error::MissingCaseKey("x".into()),
            Error::KeyFile { path: "/x".into(), why: "x".into() },
            Error::AuditBroken("x".into()),
            Error::Io { path: "/x".into(), source: std::io::Error::other("x") },
            Error::SequenceTaken(1),
            Error::NotDiscardable { why: harbour_core::store::Held::Sent },
            Error::AlreadyReferred,
            Error::FiguresChanged { key: "by_sex.female".into(), shown: 3, now: 2 },
            Error::DirectoryNotEditable,
            Error::ChangeTooLarge { bytes: 2_000_000, max: 1_048_576 },
            Error::FileExists("/x".into()),
            Error::ExportPassphrase,
            Error::NotAnExport("/x".into()),
            Error::Damaged { path: "/x".into(), why: "x".into() },
            Error::Corrupt("x".into()),
        ]
    }

    /// A `const NAME = { kind: "key", … };` map of an interface file: kind → key.
    fn interface_map(file: &str, name: &str) -> BTreeMap<String, String> {
        let source =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/js").join(file)).unwrap();
        let start = source.find(&format!("const {name} = {{")).unwrap_or_else(|| panic!("{file} has {name}"));
        let body = &source[start..];
        let body = &body[..body.find("};").expect("the map ends")];
        body.lines()
            .filter_map(|line| line.trim().trim_end_matches(',').split_once(": "))
            .map(|(kind, key)| (kind.trim().to_owned(), key.trim().trim_matches('"').to_owned()))
            .collect()
    }

    #[test]
    fn every_sync_failure_is_a_sentence_in_every_language_and_no_raw_message_is_shown() {
        let keys = interface_map("i18n.js", "SYNC_FAILURE_KEYS");
        let strings = strings();
        for failure in Failure::ALL {
            let code = failure.code();
            let key = keys.get(code).unwrap_or_else(|| panic!("ui/js/i18n.js SYNC_FAILURE_KEYS does not say `{code}`"));
            assert!(
                translated(&strings, key),
                "`{key}` (sync failure `{code}`) is not in strings.json in en, es and fr"
            );
        }
        assert_eq!(keys.len(), Failure::ALL.len(), "SYNC_FAILURE_KEYS lists a failure the shell never sends");
        // A sync that went well may still have something to say (a service directory refused).
        let notices = interface_map("i18n.js", "SYNC_NOTICE_KEYS");
        for notice in harbour_sync::failure::Notice::ALL {
            let code = notice.code();
            let key =
                notices.get(code).unwrap_or_else(|| panic!("ui/js/i18n.js SYNC_NOTICE_KEYS does not say `{code}`"));
            assert!(
                translated(&strings, key),
                "`{key}` (sync notice `{code}`) is not in strings.json in en, es and fr"
            );
        }
        assert_eq!(notices.len(), harbour_sync::failure::Notice::ALL.len(), "SYNC_NOTICE_KEYS lists an unknown notice");
        // Every sentence of the sync bar comes from the table: it never reads the status's
        // `message` (the engine's English), and a `sync` error's sentence is its reason's.
        let bar = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/js/syncbar.js")).unwrap();
        assert!(!bar.contains(".message"), "ui/js/syncbar.js shows a status's raw message");
        for key in bar.split("t(\"").skip(1).filter_map(|rest| rest.split('"').next()) {
            assert!(translated(&strings, key), "the sync bar's `{key}` is not in strings.json in en, es and fr");
        }
        let revoked = CommandError::from(harbour_sync::client::ClientError::Unauthorized { url: "https://x".into() });
        assert_eq!((revoked.kind, revoked.reason), ("sync", Some(Failure::Refused)));
        let json = serde_json::to_value(&revoked).unwrap();
        assert_eq!(json["reason"], "refused", "the interface receives the reason's code");
        let i18n = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/js/i18n.js")).unwrap();
        let error_text = &i18n[i18n.find("export function errorText").expect("errorText")..];
        assert!(
            error_text[..error_text.find("\n}").unwrap()].contains(
                "if (error && error.kind === \"sync\") return { sentence: syncFailureText(error.reason), detail: \"\" }"
            ),
            "a `sync` error is said by its reason, without the server's sentence"
        );
    }

    /// `KINDS` of ui/js/api.js: the kinds the interface keeps (any other becomes `internal`).
    fn interface_kinds() -> Vec<String> {
        let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/js/api.js")).unwrap();
        let start = source.find("const KINDS = [").expect("api.js has KINDS");
        let body = &source[start..];
        let body = &body[..body.find("];").expect("KINDS ends")];
        body.lines()
            .filter_map(|line| line.trim().strip_suffix(','))
            .map(|kind| kind.trim_matches('"').to_owned())
            .collect()
    }

    #[test]
    fn no_error_core_makes_reaches_the_interface_without_a_translation() {
        let kept = interface_kinds();
        for kind in KINDS {
            assert!(kept.iter().any(|known| known == kind), "ui/js/api.js KINDS drops `{kind}` to internal");
        }
        let keys = interface_error_keys();
        let strings = strings();
        for kind in KINDS {
            let key = keys.get(*kind).unwrap_or_else(|| panic!("ui/js/i18n.js ERROR_KEYS does not translate `{kind}`"));
            assert!(translated(&strings, key), "`{key}` (for `{kind}`) is not in strings.json in en, es and fr");
        }
        for error in every_core_error() {
            let sentence = error.to_string();
            let command = CommandError::from(error);
            assert!(KINDS.contains(&command.kind), "`{}` is not a listed kind ({sentence})", command.kind);
            for fault in &command.faults {
                let key = format!("error.fault.{}", fault.fault.code());
                assert!(translated(&strings, &key), "`{key}` is not in strings.json in en, es and fr");
            }
        }
        for code in Fault::CODES {
            assert!(translated(&strings, &format!("error.fault.{code}")), "fault `{code}` has no translation");
        }
        // A drill-down refused because the figures changed is said in the worker's language,
        // not as a generic `invalid` with an English detail.
        let changed = CommandError::from(Error::FiguresChanged { key: "by_status.active".into(), shown: 5, now: 4 });
        assert_eq!((changed.kind, changed.field), ("figures_changed", None));
        assert!(translated(&strings, &keys["figures_changed"]));
        // So is a number chosen on figures no longer kept (Harbour locked since).
        let gone = CommandError::figures_gone();
        assert_eq!((gone.kind, gone.field), ("figures_gone", None));
        assert!(KINDS.contains(&gone.kind));
        assert!(translated(&strings, &keys["figures_gone"]));
        for kind in ["locked", "sync", "internal"] {
            assert!(KINDS.contains(&kind), "the shell's own kind `{kind}` is listed");
        }
    }
}
