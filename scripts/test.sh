#!/usr/bin/env bash
# Install orchestrator with its test extras into .venv; run lint, types and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh "[test]"
# issue 6: Arize Phoenix for tests/test_phoenix.py (a real tracing backend), in its own venv
# because its pins would conflict with ours; skipped when ORCHESTRATOR_PHOENIX names one.
if [ -z "${ORCHESTRATOR_PHOENIX:-}" ] && [ ! -x .venv-phoenix/bin/phoenix ]; then
  python3 -m venv .venv-phoenix
  .venv-phoenix/bin/python -m pip install -q --upgrade pip
  .venv-phoenix/bin/python -m pip install -q "arize-phoenix>=20.26,<21"
fi
. .venv/bin/activate
export HF_HUB_OFFLINE=1
ruff check orchestrator tests bench examples
ruff format --check orchestrator tests bench examples
mypy
python -m pytest -q
