#!/usr/bin/env bash
# Renders a campaign folder's HTML report and takes a screenshot of it with headless Chromium.
#   scripts/report-screenshot.sh DIR OUT.png
# Writes DIR/report.html (dlsmith report DIR -o DIR/report.html), then OUT.png (1400x3000).
# The dlsmith binary is $DLSMITH, else .build/release/dlsmith, else .build/debug/dlsmith.
# Chromium comes from the Debian package `chromium` (apt-get install -y chromium).
set -euo pipefail
if [ $# -ne 2 ]; then
  sed -n '3,4p' "$0" >&2
  exit 64
fi
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(cd "$1" && pwd)
out=$(realpath -m "$2")
bin=${DLSMITH:-}
if [ -z "$bin" ]; then
  for b in "$root/.build/release/dlsmith" "$root/.build/debug/dlsmith"; do
    if [ -x "$b" ]; then bin=$b; break; fi
  done
fi
[ -n "$bin" ] || { echo "no dlsmith binary: run swift build, or set DLSMITH" >&2; exit 1; }
command -v chromium >/dev/null || {
  echo "chromium not found: install the Debian package chromium (apt-get install -y chromium)" >&2
  exit 1
}

"$bin" report "$dir" -o "$dir/report.html"
mkdir -p "$(dirname "$out")"
rm -f "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile/profile" \
  --window-size=1400,3000 --screenshot="$out" "file://$dir/report.html" 2>"$profile/chromium.log" || true
if [ ! -s "$out" ]; then
  cat "$profile/chromium.log" >&2
  echo "chromium wrote no screenshot to $out" >&2
  exit 1
fi
echo "$out"
