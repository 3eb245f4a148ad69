#!/usr/bin/env bash
# Compile the relay's hot path (opt-in; docs/relay.md "Compiled hot path").
#
#   scripts/compile.sh           build quicko/relay/{frames,flow} as C extensions beside their
#                                sources with mypyc (Python then imports them instead of the .py
#                                files), and quicko/relay/native.pyx with Cython (the common
#                                MESSAGE forwarded in C, quicko.relay.native)
#   scripts/compile.sh --clean   delete them: back to the pure-Python path (the default)
#
# The list of modules is quicko.relay.compiled.HOT_MODULES (+ NATIVE_MODULE); `quicko relay`
# logs which path it runs ("hot_path" in its "listening" line). Needs a C compiler and the
# Python headers (Debian: gcc and python3-dev, installed by `scripts/system-deps.sh
# --compile`), mypy (the dev extra; mypyc ships with it) and Cython (the dev extra too). Each
# module is compiled on its own (an extension and its <name>__mypyc library), so nothing lands
# outside src/quicko/relay; the build directory is removed afterwards. The .so files are
# ignored by git and never committed. Uses $PYTHON, else .venv/bin/python. Takes 15-30 s.
# Exit status 3: a prerequisite is missing (nothing was built or removed); 1: a build failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
modules=(frames flow)  # quicko/relay/<name>.py; keep in step with HOT_MODULES
relay="$root/src/quicko/relay"

clean() {
    local name
    for name in "${modules[@]}"; do
        rm -f "$relay/$name".*.so "$relay/$name"__mypyc.*.so
    done
    rm -f "$relay"/native.*.so
}

case "${1:-}" in
    --clean) clean; echo "compile: removed the compiled relay modules (pure Python now)" >&2; exit 0 ;;
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
PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}" "$python" -c \
    'from quicko.relay.compiled import compiled_modules, hot_path; m = compiled_modules(); print("compile:", m, hot_path()); assert all(m.values()) and hot_path() == "compiled+native"' >&2
