#!/usr/bin/env bash
# Installs what `saesplade adapt` needs: a Python venv in model/.venv-adapt with
# model/requirements-adapt.txt (numpy, scipy, onnx, onnxruntime, tokenizers, bm25s, PyStemmer; no torch,
# no CUDA). Idempotent: does nothing when the venv already holds this requirements file. Prints the
# download size and the install time. The service (ingest, worker, search) needs none of this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=model/.venv-adapt
req=model/requirements-adapt.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "scripts/adapt-env.sh: $venv is up to date"
  exit 0
fi
t0=$(date +%s)
if ! python3 -m venv "$venv" 2>/dev/null; then
  # Debian/Ubuntu ship venv's pip bootstrap apart (python3-venv); install it as the test script does chromium
  rm -rf "$venv"
  as_root() { if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi; }
  if command -v apt-get >/dev/null; then
    echo "scripts/adapt-env.sh: installing python3-venv (apt-get)"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
  fi
  python3 -m venv "$venv" || { echo "scripts/adapt-env.sh: python3 -m venv failed; install Python 3.10+ with venv (Debian: python3-venv)" >&2; exit 1; }
fi
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
# download first (into an empty folder, so the figure printed below is what this machine fetched), then install
"$venv/bin/pip" download -q --disable-pip-version-check --no-cache-dir -d "$cache" -r "$req"
"$venv/bin/pip" install -q --disable-pip-version-check --no-index --find-links "$cache" -r "$req"
echo "$want" > "$stamp"
echo "scripts/adapt-env.sh: installed $req into $venv in $(( $(date +%s) - t0 )) s;" \
  "downloaded $(du -sm "$cache" | cut -f1) MB, $(du -sm "$venv" | cut -f1) MB on disk"
