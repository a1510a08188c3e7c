//! The integration tests of `harbour-server`: one binary, one module per concern.

mod conformance;
mod faults;
mod hardening;
mod http;
mod limits;
mod migration;
mod plaintext;
mod schemathesis;
mod support;
mod tls;
