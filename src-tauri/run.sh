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

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "src-tauri/run.sh: installing system packages needs root (or sudo): $*" >&2; exit 1
    fi
}

packages=(build-essential pkg-config perl make
    libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev libxdo-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
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
