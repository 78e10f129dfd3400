# Shared by scripts/start and scripts/test: make .venv with Python >= 3.11 and
# install the project into it. The install is skipped when pyproject.toml and
# the requested extras are unchanged since the last one (a stamp in .venv).

find_python() {
    local candidate
    # "python" last: what actions/setup-python puts on PATH on Windows.
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "ATOM Desktop needs Python 3.11 or newer; none was found (set PYTHON=/path/to/python3.11)." >&2
    return 1
}

ensure_venv() {
    local target="$1" python stamp wanted
    if [ ! -x .venv/bin/python ]; then
        python=$(find_python)
        echo "Creating .venv with $("$python" --version)"
        "$python" -m venv .venv
        .venv/bin/python -m pip install -q --upgrade pip
    fi
    stamp=.venv/.atom-desktop-installed
    wanted="$target $(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ -f "$stamp" ] && grep -qxF "$wanted" "$stamp"; then
        return 0
    fi
    # The project maps resources/ to the package atom_desktop.resources, so
    # setuptools makes the editable install with an import hook rather than a
    # plain path entry, and says so in an "Editable installation." notice
    # (about folders named like the package shadowing it), which pip shows
    # even with -q. The hook serves both mappings, and that notice is not for
    # whoever starts the app or the tests: it alone is filtered, any other
    # warning of the build still shows. (--config-settings editable_mode=compat
    # would warn too, and cannot serve atom_desktop.resources.)
    PYTHONWARNINGS="${PYTHONWARNINGS:+$PYTHONWARNINGS,}ignore:Editable installation:UserWarning" \
        .venv/bin/python -m pip install -q --disable-pip-version-check -e "$target"
    echo "$wanted" >>"$stamp"
}
