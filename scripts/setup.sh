#!/usr/bin/env bash
# Create .venv if missing and install Quicko2 into it with the extras named in $QUICKO_EXTRAS
# (default "dev"). Sourced by ./run.sh and ./test.sh; safe to run again: it reinstalls only
# when pyproject.toml or the extras changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${QUICKO_EXTRAS:-dev}"
venv="$root/.venv"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Quicko2 needs Python 3.11 or newer; set PYTHON=/path/to/python3.11 and try again." >&2
    exit 1
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating virtual environment in .venv" >&2
    if ! "$python" -m venv "$venv" 2>/dev/null; then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            "$python" -m venv "$venv"
        else
            echo "setup: python3 -m venv failed; install your distribution's python3-venv package." >&2
            exit 1
        fi
    fi
fi

stamp="$venv/.quicko-installed"
want="$(cat "$root/pyproject.toml" | sha256sum | cut -c1-16) $extras"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "setup: installing quicko2[$extras] into .venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$root[$extras]" >&2
    echo "$want" > "$stamp"
fi

# Compile our bytecode now, so that running Quicko2 never writes a .pyc file (docs/security.md:
# nothing is written to disk at run time). Only changed files are compiled; it takes a moment.
"$venv/bin/python" -m compileall -q "$root/src" >/dev/null
