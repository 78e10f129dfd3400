# Shared by scripts/start and scripts/test: install missing Debian packages.
# On other systems, check for the tools that matter and say what to install.

# ensure_system_packages WHO "tool ..." PACKAGE...
#   WHO names the calling script in messages; the second argument lists
#   commands that must exist on a system without dpkg.
ensure_system_packages() {
    local who="$1" tools="$2"
    shift 2
    local packages=("$@")
    if ! command -v dpkg-query >/dev/null 2>&1; then
        for tool in $tools; do
            if ! command -v "$tool" >/dev/null 2>&1; then
                echo "$who: '$tool' is missing. On this system, install the equivalents of:" >&2
                echo "  ${packages[*]}" >&2
                return 1
            fi
        done
        return 0
    fi
    local missing=()
    for pkg in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "$who: installing system packages: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "$who: not root and no sudo; ask an administrator to run:" >&2
            echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
            return 1
        fi
    fi
    local log="${TMPDIR:-/tmp}/atom-desktop-apt.log"
    if ! { "${sudo[@]}" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        echo "$who: could not install: ${missing[*]} (log: $log)" >&2
        tail -n 20 "$log" >&2
        return 1
    fi
}

# The libraries Qt's X11 platform plugin loads (the wheels bundle the rest).
QT_RUNTIME_PACKAGES=(
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1
    libdbus-1-3
)
