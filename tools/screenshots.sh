#!/bin/bash
# The README's pictures, made by the browser tests themselves: runs them
# with HEAPWATCH_SCREENSHOTS=docs (tests/browser.py saves each page there)
# and keeps the ones the README shows.
#
#     tools/screenshots.sh      (after `make .venv/.ok`; needs chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
HEAPWATCH_SCREENSHOTS="$tmp" CI=1 .venv/bin/python -m pytest -q -p no:cacheprovider \
    tests/test_report.py tests/test_django_staff.py tests/test_django_panel.py -k "chromium or browser"
for name in report staff-page panel; do
    cp "$tmp/$name.png" "docs/$name.png"
done
ls -l docs/*.png
