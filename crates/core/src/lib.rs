//! Harbour's core: the domain model, sealed events and their merge, keys and the encrypted
//! local store. It knows nothing of HTTP, Tauri or the terminal.

pub mod anon;
pub mod audit;
pub mod crypto;
pub mod deployment;
pub mod directory;
pub mod error;
pub mod event;
pub mod export;
pub mod fold;
pub mod forms;
pub mod htcds;
pub mod identity;
pub mod ids;
pub mod import;
pub mod keyfile;
pub mod letter;
pub mod matching;
pub mod model;
pub mod stats;
pub mod store;

pub use error::{Error, Result};
pub use event::{Change, Event, Hlc, SealedEvent};
pub use fold::CaseState;
pub use ids::{CaseCode, CaseId, CodePrefix, DeviceId, EntryId, EventId};
pub use store::{
    CaseQuery, CaseSummary, ConsentInput, CreateOptions, JusticeInput, PerpetratorInput, ProcessInput, ReferralInput,
    Workspace,
};
