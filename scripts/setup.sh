#!/usr/bin/env bash
# Create .venv if missing and install Quicko2 into it with the extras named in $QUICKO_EXTRAS
# (comma-separated; default "dev", the developer tools; empty for none). Sourced by ./run.sh,
# which asks only for what running needs ("desktop", "tui"), and by ./test.sh ("dev").
#
# Safe to run again: it installs only when pyproject.toml changed or an extra is asked for that
# is not installed yet, and it never uninstalls: a .venv set up by ./test.sh already has what
# ./run.sh needs. The stamp .venv/.quicko-installed holds the hash of pyproject.toml and the
# extras installed with it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${QUICKO_EXTRAS-dev}"
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

# The extras of a comma-separated list and what they include, sorted and comma-separated.
# pyproject.toml's dev extra lists both apps' packages (the UI tests need them) and the compile
# extra's tools (mypy, Cython).
expand_extras() {
    local extra list=() requested=()
    IFS=, read -ra requested <<<"$1"
    for extra in ${requested[@]+"${requested[@]}"}; do
        extra="${extra// /}"
        [[ -z "$extra" ]] && continue
        list+=("$extra")
        [[ "$extra" == dev ]] && list+=(compile desktop tui)
    done
    ((${#list[@]})) && printf '%s\n' "${list[@]}" | sort -u | paste -sd, -
    return 0
}

# QUICKO_COMPILE=1 (below) needs mypyc and Cython: the compile extra.
[[ "${QUICKO_COMPILE:-0}" == 1 ]] && extras="${extras:+$extras,}compile"

stamp="$venv/.quicko-installed"
project_hash="$(sha256sum <"$root/pyproject.toml" | cut -c1-16)"
installed_hash="" installed=""
if [[ -f "$stamp" ]]; then
    read -r installed_hash installed <"$stamp" || true
fi
installed="$(expand_extras "$installed")"
wanted="$(expand_extras "$extras")"
# Installed extras are kept (pip never removes them): install the union when anything is missing.
union="$(expand_extras "$installed,$wanted")"
if [[ ! -f "$stamp" || "$installed_hash" != "$project_hash" || "$union" != "$installed" ]]; then
    target="$root${union:+[$union]}"
    echo "setup: installing quicko2${union:+[$union]} into .venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$target" >&2
    echo "$project_hash $union" >"$stamp"
fi

# Compile our bytecode now, so that running Quicko2 never writes a .pyc file (docs/security.md:
# nothing is written to disk at run time). Only changed files are compiled; it takes a moment.
"$venv/bin/python" -m compileall -q "$root/src" >/dev/null

# Opt-in: QUICKO_COMPILE=1 builds the relay's hot modules with mypyc and its native hot path
# with Cython, and the client's hot modules with mypyc (scripts/compile.sh, with the compile extra
# installed above; it needs a C compiler and the Python headers, which ./run.sh installs as root:
# scripts/system-deps.sh --compile), when they are missing or older than their sources. Off by
# default: the pure-Python path is the default, and what ./test.sh's main run and CI's run. A
# build that fails is reported and the relay and the apps run their pure-Python path (same
# behaviour, slower); `quicko relay` logs which one.
if [[ "${QUICKO_COMPILE:-0}" == 1 ]]; then
    stale=0
    for module in frames.py flow.py native.pyx; do  # quicko.relay.compiled: HOT_MODULES, native
        built=("$root/src/quicko/relay/${module%.*}".cpython-*.so)
        if [[ ! -f "${built[0]}" || "$root/src/quicko/relay/$module" -nt "${built[0]}" ]]; then
            stale=1
        fi
    done
    # quicko.client.compiled: one group, its library in src/quicko; older than any source of the
    # packages its modules come from means stale.
    built=("$root/src/quicko/_client_hot__mypyc".cpython-*.so)
    packages=("$root/src/quicko/"{client,crypto,messaging,session,store})
    if [[ ! -f "${built[0]}" ]] ||
        [[ -n "$(find "${packages[@]}" -name '*.py' -newer "${built[0]}" | head -1)" ]]; then
        stale=1
    fi
    if ((stale)) && ! PYTHON="$venv/bin/python" bash "$root/scripts/compile.sh" >&2; then
        echo "setup: the compiled hot paths were not built (see above);" \
            "the relay runs its pure-Python path, and so do the apps" >&2
    fi
fi
