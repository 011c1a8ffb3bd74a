#!/usr/bin/env bash
# Creates .venv and installs Fuse with every extra, pinned by constraints.txt.
# torch comes first as 2.13.0 (a CPU build is on disk on these machines), so
# the later install finds it satisfied instead of fetching a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -c constraints.txt -e ".[all]"
