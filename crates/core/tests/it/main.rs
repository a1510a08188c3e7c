//! Integration tests of harbour-core: one test binary, one module per area (STYLE.md §13).
//!
//! Every name, birth date, note or answer written here is an invented string, and no assertion
//! prints one when it fails: comparisons of whole cases report only which parts differ.

mod audit;
mod desk;
mod disk;
mod forms;
mod merge;
mod relay;
mod schema;
mod screening;
mod screening_result;
mod search;
mod stats;
mod stats_kept;
mod support;
mod suppress_linked;
mod tamper;
mod unlock;
mod workspace;
