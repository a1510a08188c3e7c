//! `harbour-server`: the ministry's sync server, a blind relay with access control.
//!
//! It stores sealed events and their routing metadata and serves each device the events of
//! the cases its team may see. It depends on `harbour-wire` only, so it cannot open an event.

pub mod api;
pub mod connections;
pub mod enrolment;
mod group_commit;
pub mod metrics;
pub mod postgres;
pub mod postgres_tls;
pub mod quota;
pub mod ratelimit;
pub mod serve;
pub mod services;
pub mod sqlite;
pub mod store;
pub mod token;
pub mod wipe;
