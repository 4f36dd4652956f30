#!/usr/bin/env bash
# Install orchestrator with its test extras into .venv and run lint, types and the test suite.
# torch is pinned first: an unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[test]"
ruff check orchestrator tests bench
ruff format --check orchestrator tests bench
mypy
export HF_HUB_OFFLINE=1
python -m pytest -q
