//! The integration tests of `harbour-server`: one binary, one module per concern.

mod conformance;
mod faults;
mod http;
mod migration;
mod limits;
mod plaintext;
mod support;
mod tls;
