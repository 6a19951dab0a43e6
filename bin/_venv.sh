# Shared by bin/run and bin/test: a virtualenv in .venv with the locked dependencies, installed again
# only when the lock file changes.
VENV="${OMS_VENV:-.venv}"
PY="$VENV/bin/python"

ensure_venv() {
    local lock="$1"
    local python="${PYTHON:-}"
    if [ -z "$python" ]; then
        for candidate in python3.11 python3.12 python3.13 python3; do
            if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
        done
    fi
    if [ ! -x "$PY" ]; then
        echo "Creating the virtualenv in $VENV with $python ..."
        "$python" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$(basename "$lock")"
    if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
        echo "Installing dependencies from $lock ..."
        # pip's notes about this machine's own package mirrors are noise for a newcomer.
        "$PY" -m pip install --quiet --disable-pip-version-check -r "$lock" 2> >(grep -v "is ignored: it is neither" >&2)
        cp "$lock" "$stamp"
    fi
}
