#!/usr/bin/env bash
# Rebuild models/default/ from scratch (seeded). See model/README.md for the venv setup.
set -eo pipefail
cd "$(dirname "$0")"
mkdir -p work
.venv/bin/python -m saesplade_model.build "$@" 2>&1 | tee work/build.log
