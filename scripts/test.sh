#!/usr/bin/env bash
# Installs everything into .venv, then runs every test: pytest and lit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
python -m pytest -n 2 -p no:cacheprovider
lit lit_tests -v
