#!/usr/bin/env bash
# Start Quicko2: set up .venv on first use, start a local relay unless one is already running
# (or --relay is given), open the desktop app (the terminal app when there is no display), and
# stop the relay it started when the app exits. `./run.sh --help` explains the options.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
    cat <<'HELP'
usage: ./run.sh [--relay URL] [--desktop | --terminal] [--port N]
       ./run.sh QUICKO-COMMAND [ARGS…]

With no command: sets up .venv on first use, starts a local relay on 127.0.0.1:9900 (unless
one is already answering there), opens the desktop app — or the terminal app when there is no
display, or one that cannot be opened — and stops the relay it started when the app exits.

  --relay URL     use this relay (ws://… or wss://…) instead of starting one
  --desktop       open the desktop app (fails without a usable display)
  --terminal      open the terminal app
  --port N        port of the local relay to start or reuse (default 9900)
  -h, --help      show this help

Any quicko command runs directly, for example:
  ./run.sh relay --port 9901       run only a relay (Ctrl+C stops it)
  ./run.sh keygen                  a new QuickoKey and its 16-word seed phrase
  ./run.sh recover                 recover a QuickoKey from its seed phrase (read from stdin)
  ./run.sh session create --json   a scriptable chat (see docs/cli.md)
  ./run.sh --version
HELP
}

relay_url="" mode="auto" port=9900
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    --version | keygen | recover | relay | session | bench | app | chat) command=1 ;;
    *) command=0 ;;
esac
if ((!command)); then
    while (($#)); do
        case "$1" in
            --relay) relay_url="${2:?--relay needs a URL, e.g. ws://127.0.0.1:9900}"; shift 2 ;;
            --desktop) mode=desktop; shift ;;
            --terminal) mode=terminal; shift ;;
            --port)
                port="${2:?--port needs a number}"
                if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
                    echo "run.sh: --port needs a number from 1 to 65535, got '$port'" >&2
                    exit 2
                fi
                shift 2 ;;
            *) echo "run.sh: unknown option '$1' (see ./run.sh --help)" >&2; exit 2 ;;
        esac
    done
fi

# Install only what running needs (the developer tools come with ./test.sh): the terminal app's
# Textual, and Qt when the desktop app may open (with Textual too: the fallback without a
# usable display). QUICKO_EXTRAS overrides the choice.
has_display() { [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; }
if ((command)); then
    case "$1" in
        app) extras=desktop ;;
        chat) extras=tui ;;
        *) extras="" ;;
    esac
elif [[ $mode == desktop ]]; then
    extras=desktop
elif [[ $mode == auto ]] && has_display; then
    extras=desktop,tui
else
    extras=tui
fi
# The Debian libraries Qt loads, when Qt is installed; with QUICKO_COMPILE=1 (the relay's and
# the client's compiled hot paths, scripts/setup.sh) also the C compiler and the Python headers.
case ",${QUICKO_EXTRAS-$extras}," in
    *,desktop,* | *,dev,*) deps=() ;;
    *) deps=(--no-desktop) ;;
esac
[[ "${QUICKO_COMPILE:-0}" == 1 ]] && deps+=(--compile)
[[ "${deps[*]}" == --no-desktop ]] || bash scripts/system-deps.sh "${deps[@]}"
QUICKO_EXTRAS="${QUICKO_EXTRAS-$extras}" source scripts/setup.sh
# Ephemeral means no files at all: not even Python bytecode caches (docs/security.md).
export PYTHONDONTWRITEBYTECODE=1
quicko=.venv/bin/quicko

if ((command)); then
    exec "$quicko" "$@"
fi

# Can the desktop app open a window? A stale DISPLAY would make Qt abort: check first (a child
# process starts Qt's GUI), and fall back to the terminal app, or with --desktop stop here.
if [[ $mode == auto ]]; then
    mode=terminal
    if has_display; then
        if why="$("$quicko" app --check 2>&1)"; then
            mode=desktop
        else
            echo "run.sh: ${why#quicko app: }; opening the terminal app instead" >&2
        fi
    fi
elif [[ $mode == desktop ]]; then
    "$quicko" app --check || exit 1
fi

relay_pid=""
stop_relay() {
    if [[ -n "$relay_pid" ]] && kill -0 "$relay_pid" 2>/dev/null; then
        kill -TERM "$relay_pid" 2>/dev/null || true
        wait "$relay_pid" 2>/dev/null || true
    fi
}
trap stop_relay EXIT

relay_answers() {
    .venv/bin/python - "$1" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1).read()
except OSError:
    sys.exit(1)
PY
}

port_taken() {  # something accepts connections on 127.0.0.1:$1
    .venv/bin/python - "$1" <<'PY'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

if [[ -z "$relay_url" ]]; then
    relay_url="ws://127.0.0.1:$port"
    if relay_answers "$port"; then
        echo "run.sh: using the relay already running on 127.0.0.1:$port" >&2
    elif port_taken "$port"; then
        echo "run.sh: port $port on 127.0.0.1 is taken by another program (not a Quicko2 relay):" \
            "stop it, or use another port: ./run.sh --port N" >&2
        exit 1
    else
        # The relay's JSON logs would draw over the terminal app: keep them only with a display.
        if [[ $mode == terminal ]]; then
            "$quicko" relay --host 127.0.0.1 --port "$port" 2>/dev/null &
        else
            "$quicko" relay --host 127.0.0.1 --port "$port" &
        fi
        relay_pid=$!
        for _ in $(seq 100); do
            relay_answers "$port" && break
            if ! kill -0 "$relay_pid" 2>/dev/null; then
                echo "run.sh: the relay did not start on 127.0.0.1:$port; run" \
                    "\`./run.sh relay --host 127.0.0.1 --port $port\` to see why" >&2
                exit 1
            fi
            sleep 0.1
        done
        relay_answers "$port" || { echo "run.sh: the relay did not answer on port $port" >&2; exit 1; }
        echo "run.sh: started a relay on 127.0.0.1:$port (stopped when the app exits)" >&2
    fi
fi

status=0
if [[ $mode == desktop ]]; then
    "$quicko" app --relay "$relay_url" || status=$?
else
    "$quicko" chat --relay "$relay_url" || status=$?
fi
exit "$status"
