#!/usr/bin/env bash
# Install orchestrator with its test extras into .venv; run lint, types and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh "[test]"
. .venv/bin/activate
export HF_HUB_OFFLINE=1
ruff check orchestrator tests bench examples
ruff format --check orchestrator tests bench examples
mypy
python -m pytest -q
