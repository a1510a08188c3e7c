#!/usr/bin/env bash
# Runs Harbour's desktop app on a fresh Debian/Ubuntu machine with Rust (rustup) installed:
# installs the system packages a Tauri 2 app needs (WebKitGTK, GTK), builds the app in release
# mode and starts it. The first build takes a few minutes; later runs start at once.
#
#   bash src-tauri/run.sh
#
# HARBOUR_DATA_DIR chooses where the encrypted workspace lives (default ~/.local/share/harbour).
set -euo pipefail
cd "$(dirname "$0")/.."

# WebKitGTK and GTK for a Tauri 2 app; a C toolchain for SQLCipher with its vendored OpenSSL.
source .ci/packages.sh
install_packages src-tauri/run.sh build-essential pkg-config perl make \
    libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev libxdo-dev
if ! command -v cargo >/dev/null; then
    echo "src-tauri/run.sh: cargo is not installed; install Rust with rustup (https://rustup.rs) and run again" >&2
    exit 1
fi
cargo build --release -p harbour-desktop
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "src-tauri/run.sh: there is no display to open Harbour's window on (DISPLAY is not set)." >&2
    echo "It is built: start target/release/harbour-desktop from a desktop session." >&2
    exit 1
fi
exec target/release/harbour-desktop "$@"
