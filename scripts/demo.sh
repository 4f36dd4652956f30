#!/usr/bin/env bash
# Install orchestrator into .venv and run the demo on the embedded defaults (offline).
# torch is pinned first: an unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e .
export HF_HUB_OFFLINE=1
orchestrator demo
