//! Why a sync failed, as a code an interface says in its own language: the sync bar and the
//! desktop's errors never show the server's or core's English sentence, only the sentence their
//! translation table has for this code (`sync.failure.<code>` in `assets/i18n/strings.json`).

use serde::Serialize;

use crate::client::ClientError;
use crate::engine::{SyncError, SyncSummary};

/// What went wrong, in the terms of what a person can do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The server cannot be reached, or did not answer in time.
    Unreachable,
    /// The server asked this laptop to slow down.
    Busy,
    /// The server failed (5xx).
    ServerError,
    /// The server does not know this laptop's token (revoked, or the server was reset).
    Refused,
    /// The server knows this laptop but does not allow what it asked.
    NotAllowed,
    /// Any other refusal of the server; nothing was changed.
    Rejected,
    /// A change is too large to send, or the server sent more than Harbour ever asks for.
    TooLarge,
    /// The server's answer could not be understood (another program, or an older or newer server).
    NotUnderstood,
    /// The server's address in the settings cannot be used.
    Address,
    /// The secure connection could not be set up (certificates).
    Connection,
    /// This laptop belongs to no organisation.
    NotEnrolled,
    /// The administrator ordered this laptop wiped.
    Wiped,
    /// The sync stopped part way (the app was closing); nothing was lost.
    Interrupted,
    /// Harbour could not read or write its own data on this laptop while syncing.
    Local,
}

impl Failure {
    /// Every failure, for the check that each has a sentence in every language.
    pub const ALL: &[Failure] = &[
        Failure::Unreachable,
        Failure::Busy,
        Failure::ServerError,
        Failure::Refused,
        Failure::NotAllowed,
        Failure::Rejected,
        Failure::TooLarge,
        Failure::NotUnderstood,
        Failure::Address,
        Failure::Connection,
        Failure::NotEnrolled,
        Failure::Wiped,
        Failure::Interrupted,
        Failure::Local,
    ];

    /// The code, as serialized (`not_allowed`).
    pub fn code(self) -> &'static str {
        match self {
            Failure::Unreachable => "unreachable",
            Failure::Busy => "busy",
            Failure::ServerError => "server_error",
            Failure::Refused => "refused",
            Failure::NotAllowed => "not_allowed",
            Failure::Rejected => "rejected",
            Failure::TooLarge => "too_large",
            Failure::NotUnderstood => "not_understood",
            Failure::Address => "address",
            Failure::Connection => "connection",
            Failure::NotEnrolled => "not_enrolled",
            Failure::Wiped => "wiped",
            Failure::Interrupted => "interrupted",
            Failure::Local => "local",
        }
    }
}

/// Something a person should know about a sync that otherwise went well (`sync.notice.<code>`
/// in `assets/i18n/strings.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// The server offered a service directory that is not the organisation's latest signed one
    /// (forged, signed by another key, or older than the one held): it was not used.
    ServiceDirectoryRefused,
    /// Another administrator changed some of the same services while this laptop was offline:
    /// their version was kept; the services to check are marked in Settings.
    ServiceDirectoryToCheck,
}

impl Notice {
    /// Every notice, for the check that each has a sentence in every language.
    pub const ALL: &[Notice] = &[Notice::ServiceDirectoryRefused, Notice::ServiceDirectoryToCheck];

    /// The code, as serialized.
    pub fn code(self) -> &'static str {
        match self {
            Notice::ServiceDirectoryRefused => "service_directory_refused",
            Notice::ServiceDirectoryToCheck => "service_directory_to_check",
        }
    }

    /// The notices a completed sync calls for.
    pub fn of(summary: &SyncSummary) -> Vec<Notice> {
        let mut notices = Vec::new();
        if summary.service_directory_refused {
            notices.push(Notice::ServiceDirectoryRefused);
        }
        if summary.service_directory_to_check > 0 {
            notices.push(Notice::ServiceDirectoryToCheck);
        }
        notices
    }
}

impl From<&ClientError> for Failure {
    fn from(error: &ClientError) -> Failure {
        match error {
            ClientError::InvalidUrl { .. } | ClientError::InsecureUrl { .. } => Failure::Address,
            ClientError::ResponseTooLarge { .. }
            | ClientError::OversizedEvent { .. }
            | ClientError::EventTooLarge { .. } => Failure::TooLarge,
            ClientError::TooManyRequests { .. } | ClientError::Rejected { status: 429, .. } => Failure::Busy,
            ClientError::Unreachable { .. } | ClientError::Timeout { .. } => Failure::Unreachable,
            ClientError::Unauthorized { .. } => Failure::Refused,
            ClientError::Forbidden { .. } => Failure::NotAllowed,
            ClientError::Rejected { .. } => Failure::Rejected,
            ClientError::ServerError { .. } => Failure::ServerError,
            ClientError::InvalidResponse { .. } => Failure::NotUnderstood,
            ClientError::Setup { .. } => Failure::Connection,
        }
    }
}

impl From<&SyncError> for Failure {
    fn from(error: &SyncError) -> Failure {
        match error {
            SyncError::Client(client) => client.into(),
            SyncError::Core(_) => Failure::Local,
            SyncError::ChangeTooLarge { .. } => Failure::TooLarge,
            SyncError::NotEnrolled => Failure::NotEnrolled,
            SyncError::Wiped { .. } => Failure::Wiped,
            SyncError::Interrupted => Failure::Interrupted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_serializes_as_its_code() {
        for failure in Failure::ALL {
            assert_eq!(serde_json::to_value(failure).unwrap(), serde_json::json!(failure.code()));
        }
        let revoked = SyncError::Client(ClientError::Unauthorized { url: "https://x".into() });
        assert_eq!(Failure::from(&revoked), Failure::Refused);
        let slow = ClientError::Rejected { status: 429, code: "quota".into(), message: "wait".into() };
        assert_eq!(Failure::from(&slow), Failure::Busy);
    }

    #[test]
    fn a_refused_service_directory_and_services_to_check_are_notices_and_nothing_else_is() {
        for notice in Notice::ALL {
            assert_eq!(serde_json::to_value(notice).unwrap(), serde_json::json!(notice.code()));
        }
        assert_eq!(Notice::of(&SyncSummary::default()), []);
        let refused = SyncSummary { service_directory_refused: true, ..SyncSummary::default() };
        assert_eq!(Notice::of(&refused), [Notice::ServiceDirectoryRefused]);
        let both =
            SyncSummary { service_directory_rebased: true, service_directory_to_check: 2, ..SyncSummary::default() };
        assert_eq!(Notice::of(&both), [Notice::ServiceDirectoryToCheck]);
    }
}
