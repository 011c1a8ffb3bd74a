#!/usr/bin/env bash
# Draws the plans of the attention and ancestor examples with
# `fuse explain --graph` and renders each SVG in a real headless browser
# (Chromium), writing a PNG screenshot next to it: the check that the SVG
# Fuse writes displays in a browser, not only parses as XML.
#
# Usage: scripts/render_plans.sh [OUT_DIR]   (default: build/plans)
# Needs: chromium on PATH (Debian/Ubuntu: apt-get install chromium); the
# project's venv for `fuse`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/plans}
mkdir -p "$out"
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "render_plans: no chromium on PATH (apt-get install chromium)" >&2
  exit 1
fi
for example in attention ancestor; do
  svg="$out/$example.svg"
  png="$out/$example.png"
  .venv/bin/fuse explain "examples/$example/$example.fuse" --graph "$svg" > /dev/null
  rm -f "$png"
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1400,1000 --screenshot="$png" "file://$(realpath "$svg")" 2> /dev/null
  # A screenshot of a page that failed to render is blank: check it has ink.
  .venv/bin/python - "$png" <<'PY'
import sys
from PIL import Image

image = Image.open(sys.argv[1]).convert("L")
dark = sum(image.histogram()[:128])
print(f"{sys.argv[1]}: {image.size[0]}x{image.size[1]}, {dark} dark pixels")
sys.exit(0 if dark > 500 else 1)
PY
done
