//! Cross-crate tests: the real `harbour` binary and real processes on real files.

mod anon;
mod cli;
mod closed_pipe;
mod crash_safety;
mod desktop;
mod discard;
mod export;
mod join_later;
mod load;
mod no_plaintext;
mod referrals;
mod relay_attacks;
mod screening;
mod service_directory;
mod sync;
mod sync_faults;
mod sync_progress;
mod sync_simulation;
mod wipe_report;
