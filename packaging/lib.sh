# shellcheck shell=bash
# Shared by the packaging scripts: find a Python >= 3.11 and the packaging
# environment's Python (build/packaging-venv, made by packaging/make_venv.py).
# Works in bash on Linux, macOS and Windows (Git Bash, as on CI runners).

# A path printed by a Windows Python, in the form this shell runs (Git Bash
# turns C:\x\y into /c/x/y); elsewhere unchanged.
to_shell_path() {
    if command -v cygpath >/dev/null 2>&1; then cygpath -u "$1"; else printf '%s\n' "$1"; fi
}

# The Python that makes virtual environments: $PYTHON, or the first of
# python3.11 ... python on PATH that is 3.11 or newer ("python" is what
# actions/setup-python puts on PATH on Windows).
host_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3 python; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "packaging: needs Python 3.11 or newer; none was found (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

# The packaging environment's Python, making the environment when
# packaging/requirements-briefcase.txt changed.
packaging_python() {
    local host python
    host=$(host_python)
    python=$("$host" packaging/make_venv.py | tail -n 1)
    to_shell_path "$python"
}
