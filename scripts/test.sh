#!/usr/bin/env bash
# THE test command (`npm test`): installs what is missing, starts the local services (reusing running
# ones), builds, and runs every vitest suite (unit + integration against the real services).
#   bash scripts/test.sh                      everything
#   bash scripts/test.sh test/unit            arguments go to `vitest run`
#   SAESPLADE_TEST_MULTINODE=1 bash scripts/test.sh   also the 3-node cluster test (~1 min on 2 cores)
#   SAESPLADE_TEST_ENGINES=opensearch-2,opensearch-3,elasticsearch-7 bash scripts/test.sh   also the engine
#                                             matrix on OpenSearch 3.3.2 and Elasticsearch 7.17.25 (~80 s; docs/ENGINES.md)
# Services stay running afterwards (scripts/services.sh stop stops them). With OPENSEARCH_URL /
# REDIS_URL pointing elsewhere, the tests use those instead and nothing is started for them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$(date +%s)

# npm ci only when node_modules is missing or older than the lock file.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci
fi
scripts/services.sh install
# `saesplade adapt`'s Python tools (no torch; ~100 MB once): test/integration/adapt.test.ts runs it for real.
bash scripts/adapt-env.sh
scripts/services.sh start
# The concept explorer test drives a real headless Chromium (Debian's package; CHROMIUM_PATH overrides).
if [[ -z "${CHROMIUM_PATH:-}" ]] && ! command -v chromium >/dev/null; then
  echo "scripts/test.sh: installing chromium (apt-get) for test/integration/server-explorer.test.ts"
  as_root() { if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
# The Python toolkit's own tests (model/tests: metric and pruning parity, the int8 graph rewrite), ~2 s,
# in the same torch-free venv (pytest added once).
model/.venv-adapt/bin/python -c "import pytest" 2>/dev/null \
  || model/.venv-adapt/bin/pip install -q --disable-pip-version-check -r model/requirements-test.txt
(cd model && .venv-adapt/bin/python -m pytest -q -p no:cacheprovider tests)
npm run build
npx vitest run "$@"
echo "scripts/test.sh: passed in $(( $(date +%s) - t0 )) s"
