#!/usr/bin/env bash
# Installs everything into .venv, then runs the main example: masked attention.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
fuse run examples/attention/attention.fuse --explain
