#!/usr/bin/env bash
# Compile the relay's and the client's hot paths (opt-in; docs/relay.md "Compiled hot path",
# docs/performance.md "Client compiled path").
#
#   scripts/compile.sh           build quicko/relay/{frames,flow} as C extensions beside their
#                                sources with mypyc (Python then imports them instead of the .py
#                                files), quicko/relay/native.pyx with Cython (the common
#                                MESSAGE forwarded in C, quicko.relay.native), and the client's
#                                hot modules with mypyc as one group
#   scripts/compile.sh --clean   delete them: back to the pure-Python path (the default)
#
# The lists of modules are quicko.relay.compiled.HOT_MODULES (+ NATIVE_MODULE) and
# quicko.client.compiled.HOT_MODULES (+ GROUP, the group's shared library, in src/quicko);
# `quicko relay` logs which path it runs ("hot_path" in its "listening" line), `quicko bench
# client` reports the client's ("client_path" in its machine line). Needs a C compiler and the
# Python headers (Debian: gcc and python3-dev, installed by `scripts/system-deps.sh
# --compile`), mypy (the dev extra; mypyc ships with it) and Cython (the dev extra too). Each
# relay module is compiled on its own (an extension and its <name>__mypyc library), so nothing
# lands outside src/quicko/relay; the client's modules are one group (a class may subclass a
# compiled class only if it is compiled too): an extension beside each source and the group's
# library src/quicko/_client_hot__mypyc. The build directory is removed afterwards. The .so
# files are ignored by git and never committed. Uses $PYTHON, else .venv/bin/python. Takes
# 1-2 min (the client's group is most of it).
# Exit status 3: a prerequisite is missing (nothing was built or removed); 1: a build failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
modules=(frames flow)  # quicko/relay/<name>.py; keep in step with HOT_MODULES
relay="$root/src/quicko/relay"
# The client's group, from quicko/client/compiled.py run on its own (it imports nothing of ours).
client_list="$root/src/quicko/client/compiled.py"
read_client() {
    "$python" -c 'import runpy, sys; v = runpy.run_path(sys.argv[1])[sys.argv[2]]
print(v if isinstance(v, str) else " ".join(v))' "$client_list" "$1"
}

clean() {
    local name
    for name in "${modules[@]}"; do
        rm -f "$relay/$name".*.so "$relay/$name"__mypyc.*.so
    done
    rm -f "$relay"/native.*.so
    # The client's group: every other extension under src/quicko (this script builds no other).
    find "$root/src/quicko" -path "$relay" -prune -o -name '*.so' -exec rm -f {} +
}

case "${1:-}" in
    --clean)
        clean
        echo "compile: removed the compiled relay and client modules (pure Python now)" >&2
        exit 0 ;;
    "") ;;
    *) echo "compile: unknown option $1 (known: --clean)" >&2; exit 2 ;;
esac

include="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
if [[ ! -f "$include/Python.h" ]] || ! command -v "${CC:-gcc}" >/dev/null 2>&1; then
    echo "compile: needs a C compiler and Python.h (not in $include); on Debian run" \
        "scripts/system-deps.sh --compile (gcc, python3-dev) as root" >&2
    exit 3
fi
if ! "$python" -c 'import mypyc' 2>/dev/null; then
    echo "compile: mypyc is missing: install the dev extra (it comes with mypy)" >&2
    exit 3
fi
if ! "$python" -c 'import Cython' 2>/dev/null; then
    echo "compile: Cython is missing: install the dev extra (Cython>=3.0)" >&2
    exit 3
fi

read -ra client_modules <<<"$(read_client HOT_MODULES)"
client_group="$(read_client GROUP)"

clean
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
# mypyc builds in ./build and copies each extension next to its source; run it from a scratch
# copy of src/ so that nothing but the extensions is written into the tree.
cp -r "$root/src/quicko" "$build/quicko"
find "$build/quicko" -name '*.so' -delete
for name in "${modules[@]}"; do
    (cd "$build" && "$python" -m mypyc --config-file "$root/pyproject.toml" \
        "quicko/relay/$name.py" >"$build/$name.log" 2>&1) || {
        cat "$build/$name.log" >&2
        echo "compile: mypyc failed on quicko/relay/$name.py" >&2
        exit 1
    }
    cp "$build"/quicko/relay/"$name".*.so "$build"/quicko/relay/"$name"__mypyc.*.so "$relay/"
done
# The native hot path: Cython to C (picows.pxd from the installed picows), then one extension.
suffix="$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
"$python" -m cython -3 "$relay/native.pyx" -o "$build/native.c" >"$build/native.log" 2>&1 &&
    "${CC:-gcc}" -shared -fPIC -O2 -I"$include" "$build/native.c" -o "$build/native$suffix" \
        >>"$build/native.log" 2>&1 || {
    cat "$build/native.log" >&2
    echo "compile: Cython or the C compiler failed on quicko/relay/native.pyx" >&2
    exit 1
}
cp "$build/native$suffix" "$relay/"
# The client's hot modules: one mypyc group (mypyc's command line cannot name a group, so this
# calls mypycify as a setup script would; build_ext --inplace writes beside the sources).
sources=()
for name in "${client_modules[@]}"; do sources+=("${name//.//}.py"); done
(cd "$build" && "$python" - "$root/pyproject.toml" "$client_group" "${sources[@]}" \
    >"$build/client.log" 2>&1 <<'PY'
import sys

from mypyc.build import mypycify
from setuptools import setup

config, group, *sources = sys.argv[1:]
modules = mypycify(["--config-file", config, *sources], group_name=group)
setup(name="quicko-client-hot", ext_modules=modules, script_args=["build_ext", "--inplace"])
PY
) || {
    cat "$build/client.log" >&2
    echo "compile: mypyc failed on the client's hot modules (quicko.client.compiled)" >&2
    exit 1
}
for name in "${client_modules[@]}"; do
    cp "$build/${name//.//}".*.so "$root/src/$(dirname "${name//.//}")/"
done
cp "$build/${client_group//.//}"__mypyc.*.so "$root/src/$(dirname "${client_group//.//}")/"
PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}" "$python" -c \
    'from quicko.relay.compiled import compiled_modules, hot_path; m = compiled_modules(); print("compile:", m, hot_path()); assert all(m.values()) and hot_path() == "compiled+native"' >&2
PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}" "$python" -c \
    'from quicko.client.compiled import hot_path; print("compile: client", hot_path()); assert hot_path() == "compiled"' >&2
