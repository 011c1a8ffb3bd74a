#!/usr/bin/env bash
# Long run of the IR mutation fuzzer (tests/test_fuzz_ir.py): N mutants of the
# lit tests' IR through fuse-opt, each a result or a diagnostic within 20 s.
#   scripts/fuzz_ir.sh 20000
set -euo pipefail
cd "$(dirname "$0")/.."
FUSE_FUZZ_IR_EXAMPLES="${1:-2000}" exec python -m pytest tests/test_fuzz_ir.py -q -p no:cacheprovider -x
