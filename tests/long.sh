#!/usr/bin/env bash
# The long-run versions of Harbour's suites, at the sizes CI has no time for (CI runs the same
# tests at small sizes through tests/run.sh). Documented in docs/PERFORMANCE.md.
#
#   bash tests/long.sh            # after tests/run.sh has installed what the tests need
#
# Sizes (override any of them from the environment):
#   HARBOUR_SIM_CASES=10000               sync simulation: cases created across the laptops
#   HARBOUR_CRASH_KILLS=1000              crash safety: SIGKILLs of a writing process
#   HARBOUR_IDLE_CONNECTIONS=20000        idle connections held against the server while a device syncs
#   HARBOUR_SCHEMATHESIS_EXAMPLES=1000    Schemathesis cases per API operation and phase
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_PROFILE_DEV_DEBUG=0
export CARGO_TERM_COLOR=never
export HARBOUR_SIM_CASES=${HARBOUR_SIM_CASES:-10000}
export HARBOUR_CRASH_KILLS=${HARBOUR_CRASH_KILLS:-1000}
export HARBOUR_IDLE_CONNECTIONS=${HARBOUR_IDLE_CONNECTIONS:-20000}
export HARBOUR_SCHEMATHESIS_EXAMPLES=${HARBOUR_SCHEMATHESIS_EXAMPLES:-1000}

say() { printf '\n== %s\n' "$*"; }

# Holding 20,000 connections needs as many file descriptors (the test raises its own soft
# limit up to the hard one; the server inherits it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo build --workspace --bins

say "Sync simulation: $HARBOUR_SIM_CASES cases"
cargo test -p harbour-tests --test it sync_simulation -- --nocapture

say "Crash safety: $HARBOUR_CRASH_KILLS kills"
cargo test -p harbour-tests --test it crash_safety -- --nocapture

say "Connections: $HARBOUR_IDLE_CONNECTIONS idle connections; Schemathesis: $HARBOUR_SCHEMATHESIS_EXAMPLES cases per operation"
cargo test -p harbour-server --test it -- hardening:: schemathesis:: --nocapture
