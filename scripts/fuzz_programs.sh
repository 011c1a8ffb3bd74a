#!/usr/bin/env bash
# Runs the random-program property test (tests/test_generated_programs.py)
# with N programs instead of the CI default, e.g. `scripts/fuzz_programs.sh 2000`.
# Each program is compiled and run on numpy, torch and jax and compared with
# the generator's own NumPy reference. Hypothesis shrinks a failure to a
# small program and prints it; extra arguments go to pytest.
# Expects an environment with Fuse installed (scripts/setup.sh makes one).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 N [pytest arguments...]   (N: how many programs to draw)" >&2
    exit 2
fi
examples=$1
shift
if [[ -f .venv/bin/activate ]]; then
    . .venv/bin/activate
fi
# The program being run is kept in $FUSE_FUZZ_LAST_CASE (default
# fuzz_last_case.fuse): after a crash that kills the process, it is the culprit.
FUSE_FUZZ_LAST_CASE=${FUSE_FUZZ_LAST_CASE:-fuzz_last_case.fuse} \
FUSE_FUZZ_EXAMPLES=$examples exec python -m pytest tests/test_generated_programs.py \
    -p no:cacheprovider --hypothesis-show-statistics "$@"
