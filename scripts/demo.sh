#!/usr/bin/env bash
# Install orchestrator into .venv and run the demo on the embedded defaults (offline).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1
orchestrator demo
