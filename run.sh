#!/usr/bin/env bash
# Set up the environment if needed and start Quicko2. Arguments go to the `quicko` command;
# with none, it starts a local relay on 127.0.0.1:9900.
set -euo pipefail
cd "$(dirname "$0")"
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    cat <<'HELP'
usage: ./run.sh [quicko arguments…]

Sets up .venv on first use, then runs the `quicko` command.
With no arguments it starts a relay on 127.0.0.1:9900 (stop it with Ctrl+C).

  ./run.sh                  start a local relay
  ./run.sh keygen           make a new QuickoKey and its 16-word seed phrase
  ./run.sh recover          recover a QuickoKey from its seed phrase (read from stdin)
  ./run.sh --version        print the version
HELP
    exit 0
fi
bash scripts/system-deps.sh
QUICKO_EXTRAS="${QUICKO_EXTRAS:-dev}" source scripts/setup.sh
if [[ $# -eq 0 ]]; then
    set -- relay --host 127.0.0.1 --port 9900
fi
# Ephemeral means no files at all: not even Python bytecode caches (docs/security.md).
export PYTHONDONTWRITEBYTECODE=1
exec .venv/bin/quicko "$@"
