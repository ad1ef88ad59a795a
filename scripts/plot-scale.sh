#!/usr/bin/env bash
# scripts/plot-scale.sh <bench scale --out result.json> <out.png>: matplotlib in .run/plot-venv (made once).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=.run/plot-venv
[[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "import matplotlib" 2>/dev/null || {
  python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check matplotlib==3.11.2
}
"$venv/bin/python" scripts/plot-scale.py "$1" "$2"
