#!/usr/bin/env bash
# The long-run versions of Harbour's suites, at the sizes CI has no time for (CI runs the same
# tests at small sizes through tests/run.sh). Documented in docs/PERFORMANCE.md.
#
#   bash tests/long.sh            # after tests/run.sh has installed what the tests need
#
# Sizes (override any of them from the environment):
#   HARBOUR_MERGE_CASES=10000             merge property: random histories on 2–5 devices
#   HARBOUR_SIM_CASES=10000               sync simulation: cases created across the laptops
#   HARBOUR_CRASH_KILLS=1000              crash safety: SIGKILLs of a writing process
#   HARBOUR_SERVER_KILLS=100              the server SIGKILLed mid-push, and as often mid-pull, per backend
#   HARBOUR_IDLE_CONNECTIONS=20000        idle connections held against the server while a device syncs
#   HARBOUR_SCHEMATHESIS_EXAMPLES=1000    Schemathesis cases per API operation and phase
#   HARBOUR_FUZZ_CASES=20000              proptest cases per fuzz target (crates/fuzz/tests/fuzz.rs)
#   HARBOUR_FUZZ_SECONDS=180              libFuzzer's time per fuzz target (tests/fuzz.sh)
#   HARBOUR_LOAD_LAPTOPS=200              load benchmark: laptops, each with its own token
#   HARBOUR_LOAD_SECONDS=60               load benchmark: measured seconds per backend
#   HARBOUR_LOAD_INTERVAL_MS=1000         load benchmark: each laptop syncs this often
#
# Each part can be run alone: HARBOUR_LONG_PARTS="fuzz load" runs only those (of: merge sim
# crash connections fuzz load).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_PROFILE_DEV_DEBUG=0
export CARGO_TERM_COLOR=never
export HARBOUR_MERGE_CASES=${HARBOUR_MERGE_CASES:-10000}
export HARBOUR_SIM_CASES=${HARBOUR_SIM_CASES:-10000}
export HARBOUR_CRASH_KILLS=${HARBOUR_CRASH_KILLS:-1000}
export HARBOUR_SERVER_KILLS=${HARBOUR_SERVER_KILLS:-100}
export HARBOUR_IDLE_CONNECTIONS=${HARBOUR_IDLE_CONNECTIONS:-20000}
export HARBOUR_SCHEMATHESIS_EXAMPLES=${HARBOUR_SCHEMATHESIS_EXAMPLES:-1000}
export HARBOUR_FUZZ_CASES=${HARBOUR_FUZZ_CASES:-20000}
export HARBOUR_FUZZ_SECONDS=${HARBOUR_FUZZ_SECONDS:-180}
export HARBOUR_LOAD_LAPTOPS=${HARBOUR_LOAD_LAPTOPS:-200}
export HARBOUR_LOAD_SECONDS=${HARBOUR_LOAD_SECONDS:-60}
export HARBOUR_LOAD_INTERVAL_MS=${HARBOUR_LOAD_INTERVAL_MS:-1000}
parts=${HARBOUR_LONG_PARTS:-merge sim crash connections fuzz load}
part() { [[ " $parts " == *" $1 "* ]]; }

say() { printf '\n== %s\n' "$*"; }

# Holding 20,000 connections needs as many file descriptors (the test raises its own soft
# limit up to the hard one; the server inherits it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo build --workspace --bins

# The PostgreSQL backend's runs (sim, crash, load) need a database: a throwaway one on
# 127.0.0.1 when none is given and this runs as root (.ci/postgres.sh), stopped on exit.
if [ -z "${HARBOUR_TEST_POSTGRES_URL:-}" ] && [ "$(id -u)" = 0 ] && { part sim || part crash || part load; }; then
    trap 'bash .ci/postgres.sh stop' EXIT
    HARBOUR_TEST_POSTGRES_URL=$(bash .ci/postgres.sh start | tail -1)
    export HARBOUR_TEST_POSTGRES_URL
fi

if part merge; then
    say "Merge property: $HARBOUR_MERGE_CASES histories on 2–5 devices"
    cargo test -p harbour-core --test it merge:: -- --nocapture
fi

if part sim; then
    say "Sync simulation: $HARBOUR_SIM_CASES cases"
    cargo test -p harbour-tests --test it sync_simulation -- --nocapture
fi

if part crash; then
    say "Crash safety: $HARBOUR_CRASH_KILLS kills of a writer; the server killed $HARBOUR_SERVER_KILLS times mid-push and as often mid-pull on each backend"
    cargo test -p harbour-tests --test it crash_safety -- --nocapture
    # 75,000 cases per backend: an optimised build of the test, with the optimised server
    # beside it.
    cargo build --release -p harbour-server
    cargo test --release -p harbour-tests --test it sync_faults -- --nocapture --test-threads 1
fi

if part connections; then
    say "Connections: $HARBOUR_IDLE_CONNECTIONS idle connections; Schemathesis: $HARBOUR_SCHEMATHESIS_EXAMPLES cases per operation"
    cargo test -p harbour-server --test it -- hardening:: schemathesis:: --nocapture
fi

if part fuzz; then
    say "Fuzzing, structure-aware under proptest: $HARBOUR_FUZZ_CASES cases per target"
    cargo test -p harbour-fuzz
    say "Fuzzing, coverage-guided (libFuzzer): $HARBOUR_FUZZ_SECONDS s per target"
    bash tests/fuzz.sh
fi

if part load; then
    say "Load: $HARBOUR_LOAD_LAPTOPS laptops for $HARBOUR_LOAD_SECONDS s on SQLite, then PostgreSQL"
    # Both optimised, so that the generator's own CPU share eats as little of the server's as it can.
    cargo build --release -p harbour-server -p harbour-tests --bin harbour-server --bin load-bench
    # The server holds a connection per laptop, and the generator one per laptop too.
    target/release/load-bench
fi
