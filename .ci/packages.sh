# Sourced by src-tauri/run.sh and tests/run.sh: `install_packages WHO PACKAGE...` installs with
# apt the Debian/Ubuntu packages not yet there (as root, or through sudo); WHO names the script
# in its messages.

install_packages() {
    local who=$1 package
    shift
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    printf '\n== Installing system packages: %s\n' "${missing[*]}"
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "$who: installing system packages needs root (or sudo): ${missing[*]}" >&2
            exit 1
        fi
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}
