//! Sync between a Harbour device and the ministry's server: the HTTP client (`client`, over the
//! wire types only) and the engine that moves a workspace's sealed events (`engine`).

pub mod client;
pub mod engine;
pub mod failure;
pub mod join_later;

pub use engine::{
    Backoff, LoopSettings, Progress, SyncError, SyncStatus, SyncSummary, background_loop, client_for,
    deliver_unsent_wipe_report, enroll, sync_once,
};
