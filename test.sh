#!/usr/bin/env bash
# Set up the environment if needed and run every check CI runs: lint, format, types, import
# contracts and the whole test suite with branch coverage. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/system-deps.sh --tests --compile
QUICKO_EXTRAS="${QUICKO_EXTRAS:-dev}" source scripts/setup.sh
bin=.venv/bin

echo "== ruff (lint)";   "$bin/ruff" check src tests scripts
echo "== ruff (format)"; "$bin/ruff" format --check src tests scripts
echo "== mypy --strict"; "$bin/mypy"
echo "== import contracts"; "$bin/lint-imports" --no-cache
echo "== pytest"
"$bin/python" -m pytest --cov --cov-report=term "$@"

# The opt-in compiled hot paths (docs/relay.md "Compiled hot path", docs/performance.md "Client
# compiled path"): the suite above ran the pure-Python default; here the relay's tests run again
# on the compiled modules, among them the equivalence of the C path with the Python one
# (tests/unit/relay/test_relay_native_equivalence.py), and so do the client's unit and
# integration tests on the client's compiled group (quicko.client.compiled).
# Modules built here are removed afterwards; modules a developer built before are rebuilt and kept.
echo "== relay and client tests on the compiled hot paths (scripts/compile.sh)"
built_before=$(find src/quicko -name '*.so' | head -1)
[[ -n "$built_before" ]] || trap 'bash scripts/compile.sh --clean 2>/dev/null' EXIT
status=0
bash scripts/compile.sh || status=$?
if [[ $status == 3 ]]; then
    echo "== SKIPPED: the compiled hot paths could not be built here (see above); CI builds them"
elif [[ $status != 0 ]]; then
    exit "$status"
else
    "$bin/python" -m pytest -q -p no:cacheprovider --no-cov tests/unit/relay \
        tests/integration/test_relay_*.py tests/integration/test_attacks_relay.py \
        tests/integration/test_abuse_relay_*.py \
        tests/unit/client tests/unit/session tests/unit/crypto tests/unit/messaging \
        tests/unit/store tests/integration/test_client_*.py \
        tests/integration/test_attacks_client.py
fi
