#!/usr/bin/env bash
# Long fuzzing runs of program text (issue 11): scripts/fuzz.sh N runs N
# mutants through tests/test_fuzz_programs.py; a failure prints the
# shrunk program. Example: scripts/fuzz.sh 20000
set -euo pipefail
cd "$(dirname "$0")/.."
FUSE_FUZZ_EXAMPLES="${1:-2000}" exec python -m pytest tests/test_fuzz_programs.py -q \
    -p no:cacheprovider --hypothesis-seed="${FUSE_FUZZ_SEED:-$RANDOM}" \
    --hypothesis-show-statistics
