#!/usr/bin/env bash
# Install the Debian packages the desktop app (PySide6 / Qt 6) needs on a bare machine: the
# shared libraries Qt's GUI and its offscreen, xcb and wayland platform plugins load, a text
# font and an emoji font. Found with `ldd` on PySide6's Qt libraries and plugins and by reading /proc/self/maps
# of an offscreen app that renders text.
#
# Idempotent and quiet: it does nothing when every package is present. As root with apt-get it
# installs the missing ones; otherwise it prints what to install and exits 0 (the tests that
# need Qt then skip or fail with Qt's own message). Run by ./run.sh, and by ./test.sh with
# --tests, which adds the tools the test suite uses (strace for the system-call traces, Xvfb for
# the launcher's display test, redis-server for the cluster tests, which start their own private
# instance with persistence off, and haproxy for the cluster test behind a real load balancer).
# With --bench (opt-in, may be combined with --tests) it adds nats-server, the NATS column of
# `quicko bench relay --baseline nats` (docs/performance.md); the test suite does not need it
# (its NATS smoke test skips without it). With --compile (opt-in) it adds gcc and python3-dev,
# which scripts/compile.sh needs to build the relay's hot path with mypyc and Cython (docs/relay.md).
# With --no-desktop it leaves out Qt's libraries and fonts (./run.sh QUICKO_COMPILE=1 for a relay
# or the terminal app: only the compiler's packages).
set -euo pipefail

# Offscreen rendering (what the headless tests use).
offscreen=(
    libglib2.0-0 libdbus-1-3 libfontconfig1 libfreetype6 libpng16-16 libbrotli1
    libgl1 libegl1 libglx0 libx11-6 libxkbcommon0 fonts-dejavu-core
    fonts-noto-color-emoji  # emoji in messages (DejaVu has none: they drew as empty boxes)
)
# A real display: the xcb and wayland platform plugins.
display=(
    libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
    libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1
    libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0
    libwayland-client0 libwayland-cursor0 libwayland-egl1
)

# Only for the test suite, and only for the benchmark's optional baselines.
tests=()
desktop=1
for flag in "$@"; do
    case "$flag" in
        --no-desktop) desktop=0 ;;
        --tests) tests+=(strace xvfb xauth redis-server haproxy) ;;
        --bench) tests+=(nats-server) ;;
        --compile) tests+=(gcc python3-dev) ;;  # scripts/compile.sh (mypyc, Cython), opt-in
        *) echo "system-deps: unknown option $flag (known: --tests, --bench, --compile, --no-desktop)" >&2; exit 2 ;;
    esac
done

if ! command -v dpkg-query >/dev/null 2>&1; then
    exit 0  # not a Debian-like system: nothing we know how to check
fi

missing=()
((desktop)) || offscreen=() display=()
for package in ${offscreen[@]+"${offscreen[@]}"} ${display[@]+"${display[@]}"} ${tests[@]+"${tests[@]}"}; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)"
    if [[ "$status" != "installed" ]]; then
        missing+=("$package")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
else
    echo "system-deps: these Debian packages are missing (install them as root):" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
fi
