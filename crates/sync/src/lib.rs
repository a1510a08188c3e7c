//! Sync between a Harbour device and the ministry's server.

pub mod client;
