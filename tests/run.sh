#!/usr/bin/env bash
# Harbour's whole test suite, from a fresh Debian/Ubuntu machine with Rust (rustup) installed:
# installs the system packages the build and the tests need, starts the services the tests use,
# runs every test, and stops what it started.
#
#   bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# Build tools for SQLCipher with its vendored OpenSSL (C compiler, make, perl, pkg-config);
# WebKitGTK and GTK for the desktop app (Tauri 2); and for its end-to-end tests a virtual
# display (Xvfb) and WebKit's WebDriver server; the Go `age` command, which the export tests
# use to open Harbour's encrypted exports as a recipient would; poppler's pdftotext and Python 3,
# the independent readers of the printed letter and of the anonymised data set (tests/it/anon.rs).
source .ci/packages.sh
install_packages tests/run.sh build-essential pkg-config perl make \
    libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev libxdo-dev \
    xvfb xauth webkit2gtk-driver age poppler-utils python3 strace

if ! command -v cargo >/dev/null; then
    echo "tests/run.sh: cargo is not installed; install Rust with rustup (https://rustup.rs) and run again" >&2
    exit 1
fi

# tauri-driver: the WebDriver server the desktop tests talk to (it runs WebKitWebDriver).
if ! command -v tauri-driver >/dev/null && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
    say "Installing tauri-driver"
    cargo install tauri-driver --locked
fi

# Debug info is not needed for tests and costs a quarter of the build time.
export CARGO_PROFILE_DEV_DEBUG=0
export CARGO_TERM_COLOR=never

# Binaries and tests in one build: the cross-crate tests run the real binaries, and building the
# tests with them resolves features once (with the tests' dev-dependencies), so `cargo test`
# below finds everything built instead of compiling Harbour's crates a second time.
say "Building every binary and test"
cargo build --workspace --bins --tests

# A throwaway PostgreSQL on 127.0.0.1 for the server's second backend (stopped on exit).
if [ -z "${HARBOUR_TEST_POSTGRES_URL:-}" ]; then
    if [ "$(id -u)" = 0 ]; then
        say "Starting a throwaway PostgreSQL on 127.0.0.1"
        trap 'bash .ci/postgres.sh stop' EXIT
        HARBOUR_TEST_POSTGRES_URL=$(bash .ci/postgres.sh start)
        export HARBOUR_TEST_POSTGRES_URL
    else
        echo "tests/run.sh: not root, so no throwaway PostgreSQL: the PostgreSQL tests are skipped" >&2
        echo "  (set HARBOUR_TEST_POSTGRES_URL to a database you may create databases in to run them)" >&2
    fi
fi

# Schemathesis (pinned) fuzzes the server from its OpenAPI document; it lives in a virtual
# environment under target/ (python3-venv from the system, the tool from PyPI).
SCHEMATHESIS_VERSION=4.32.5
if [ -z "${HARBOUR_SCHEMATHESIS:-}" ]; then
    venv=target/schemathesis-$SCHEMATHESIS_VERSION
    if [ ! -x "$venv/bin/schemathesis" ]; then
        say "Installing Schemathesis $SCHEMATHESIS_VERSION in $venv"
        python3 -m venv "$venv" || { install_packages tests/run.sh python3-venv && python3 -m venv --clear "$venv"; }
        "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
    fi
    HARBOUR_SCHEMATHESIS=$PWD/$venv/bin/schemathesis
    export HARBOUR_SCHEMATHESIS
fi

say "Running the tests"
cargo test --workspace --no-fail-fast
