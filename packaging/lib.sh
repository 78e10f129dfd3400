# shellcheck shell=bash
# Shared by the packaging scripts: find a Python >= 3.11 and the packaging
# environment's Python (build/packaging-venv, made by packaging/make_venv.py).
# Works in bash on Linux, macOS and Windows (Git Bash, as on CI runners).

# A path printed by a Windows Python, in the form this shell runs (Git Bash
# turns C:\x\y into /c/x/y); elsewhere unchanged.
to_shell_path() {
    if command -v cygpath >/dev/null 2>&1; then cygpath -u "$1"; else printf '%s\n' "$1"; fi
}

# The Python that makes virtual environments: scripts/lib/venv.sh's choice
# ($PYTHON, else the newest python3.x on PATH that is 3.11 or newer).
# shellcheck source=scripts/lib/venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/venv.sh"
host_python() {
    find_python
}

# The packaging environment's Python, making the environment when
# packaging/requirements-briefcase.txt changed.
packaging_python() {
    local host python
    host=$(host_python)
    python=$("$host" packaging/make_venv.py | tail -n 1)
    to_shell_path "$python"
}
