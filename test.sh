#!/usr/bin/env bash
# Set up the environment if needed and run every check CI runs: lint, format, types, import
# contracts and the whole test suite with branch coverage. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/system-deps.sh --tests
QUICKO_EXTRAS="${QUICKO_EXTRAS:-dev}" source scripts/setup.sh
bin=.venv/bin

echo "== ruff (lint)";   "$bin/ruff" check src tests scripts
echo "== ruff (format)"; "$bin/ruff" format --check src tests scripts
echo "== mypy --strict"; "$bin/mypy"
echo "== import contracts"; "$bin/lint-imports" --no-cache
echo "== pytest"
"$bin/python" -m pytest --cov --cov-report=term "$@"
