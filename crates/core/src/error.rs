//! The errors core returns. Every message is a sentence a clinic worker can act on; none
//! contains a name, note, answer or key.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value given by a person was refused; `field` names it, `problem` says what is allowed
    /// (in English, for the command line). `fault` is the same as data, when a typed value of the
    /// model was refused, so an interface can say it in its own language.
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String, fault: Option<crate::model::Fault> },

    /// The passphrase did not unlock the key file. The attempt is audited.
    #[error("The passphrase is not correct. Check the keyboard layout and Caps Lock, and try again.")]
    WrongPassphrase,

    /// There is no workspace in the data directory.
    #[error("There is no Harbour workspace in {0}. Create one with `harbour init`, or give the right --data-dir.")]
    NoWorkspace(PathBuf),

    /// `create` was asked to make a workspace where one already exists.
    #[error(
        "A Harbour workspace already exists in {0}. Nothing was changed; unlock it instead, or choose another --data-dir."
    )]
    WorkspaceExists(PathBuf),

    /// The database was written by a newer Harbour; it is left untouched.
    #[error(
        "This workspace was written by a newer version of Harbour (data format {found}; this version knows up to {known}). Nothing was changed: install the newer Harbour to open it."
    )]
    NewerSchema { found: i64, known: i64 },

    /// No case has this id or code.
    #[error("No case has the id or code \"{0}\". Check the code, or find the case with `harbour case list --search`.")]
    CaseNotFound(String),

    /// A sealed event failed authentication: it was altered, its metadata swapped, or the key is wrong.
    #[error("A sealed event could not be opened: it was altered, or it was sealed with another key. It was not used.")]
    Tampered,

    /// The key for a case is not on this device.
    #[error("This device does not hold the key for case {0}; it cannot be read here.")]
    MissingCaseKey(String),

    /// The key file is unreadable or damaged.
    #[error("The key file {path} is damaged ({why}). Restore it from a backup; the data cannot be opened without it.")]
    KeyFile { path: PathBuf, why: String },

    /// The audit chain does not verify.
    #[error("The audit log has been altered: {0}")]
    AuditBroken(String),

    #[error("Could not read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("The encrypted database reported a problem: {0}")]
    Database(#[from] rusqlite::Error),

    /// This laptop's next change number is already taken by another stored event. Nothing was
    /// saved; it never happens unless the database was altered or restored out of order.
    #[error(
        "This laptop's change number {0} is already used by another change, so nothing was saved. Your data is unchanged; please tell your administrator."
    )]
    SequenceTaken(u64),

    /// A change that would be larger, sealed, than any server accepts: it is refused when it is
    /// made, so that it never blocks the changes made after it from syncing.
    #[error(
        "This change is too large to share ({bytes} bytes once sealed; the most is {max} bytes). Nothing was saved: shorten the text, or split it into several notes."
    )]
    ChangeTooLarge { bytes: usize, max: usize },

    /// A case cannot be discarded because some of it has left this laptop (`why` says how):
    /// other laptops may hold it, so it can only be closed as created in error.
    #[error(
        "This case cannot be discarded: {why}, so other laptops may hold it. Close it as created in error instead (harbour case close CASE --in-error)."
    )]
    NotDiscardable { why: crate::store::Held },

    /// The case already has an open referral (sent or accepted) to this service.
    #[error(
        "This case already has an open referral to this service. Update that referral's status instead (harbour referral status); once it is declined or completed, the service can be asked again."
    )]
    AlreadyReferred,

    /// The cases behind a figure were asked for after the cases changed and its number with them:
    /// the figures must be computed again before their cases can be listed. `key` is the
    /// figure's key (`by_sex.female`), `shown` its number then, `now` its number today.
    #[error(
        "The cases changed since these figures were computed ({key} is now {now}, not {shown}). Open the figures again (harbour stats), then ask for the cases of the number."
    )]
    FiguresChanged { key: String, shown: usize, now: usize },

    /// This laptop may not edit the service directory: in an organisation only the
    /// administrator's laptop does (it signs the directory).
    #[error(
        "Only the administrator's laptop can change the service directory of an organisation. Ask your administrator to make the change."
    )]
    DirectoryNotEditable,

    /// A stored record could not be decoded; it indicates a bug or a damaged store.
    #[error("A stored record could not be read ({0}). Please report this to your administrator.")]
    Corrupt(String),

    /// An export, backup or other file Harbour writes already exists: it is never replaced.
    #[error("{0} already exists. Nothing was written: choose another file name, or move that file away first.")]
    FileExists(std::path::PathBuf),

    /// The passphrase given does not open an encrypted export.
    #[error(
        "The passphrase does not open this export. Check it with the person who made the export (letters, spaces and capitals count), and try again."
    )]
    ExportPassphrase,

    /// The file is not an export encrypted to a passphrase (age format).
    #[error("{0} is not an export encrypted with a passphrase (age format). Check that you chose the right file.")]
    NotAnExport(std::path::PathBuf),

    /// An export or backup was cut short, altered or is unreadable; nothing was taken from it.
    #[error("{path} is damaged: {why}. Nothing was taken from it; ask for a new copy or use another backup.")]
    Damaged { path: std::path::PathBuf, why: String },
}

impl Error {
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Error {
        Error::Invalid { field: field.into(), problem: problem.into(), fault: None }
    }

    /// A typed value refused for `fault`, with the command line's sentence `problem`.
    pub fn refused(field: impl Into<String>, fault: crate::model::Fault, problem: impl Into<String>) -> Error {
        Error::Invalid { field: field.into(), problem: problem.into(), fault: Some(fault) }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }
}
