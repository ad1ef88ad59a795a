#!/usr/bin/env bash
# THE main job, end to end on the built-in defaults, on a fresh machine:
#   installs what is missing (npm packages, Redis, the OpenSearch dev node), starts Redis and
#   OpenSearch (reusing running ones), ingests the bundled sample corpus (400 SciFact abstracts)
#   through the BullMQ queue and an encoder worker with the bundled model, then runs a few searches
#   with explanations. Safe to run again: unchanged documents are skipped, not re-encoded.
#   The index is the alias concepts-docs over concepts-docs-<model>-<version>. On a machine that ran
#   an older quickstart (a concrete concepts-docs index, or the alias over an index, built with an
#   older model), step 4 first upgrades it with `saesplade reindex` (re-encode, verify, switch; the
#   old index is kept for `saesplade rollback`) and says so.
# With OPENSEARCH_URL / REDIS_URL pointing at your own services, nothing local is started for them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$(date +%s)
step() { printf '\n== %s\n' "$*"; }

step "1/5 npm packages and build"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build

step "2/5 services (Redis, OpenSearch)"
scripts/services.sh install
scripts/services.sh start

cli() { node dist/src/cli.js "$@"; }

step "3/5 checking the services and the model package"
cli doctor

step "4/5 ingesting samples/scifact-mini/corpus.jsonl through the queue (an in-process worker encodes)"
# --upgrade: an index left by an older model is re-encoded with this one first (saesplade reindex).
cli ingest samples/scifact-mini/corpus.jsonl --format beir --wait --with-worker --upgrade

step "5/5 searching (concepts, with the concepts each hit matched on)"
for q in "What causes antibiotic resistance in bacteria?" \
         "vitamin D deficiency and bone fractures" \
         "How does obesity affect the risk of diabetes?"; do
  printf '\n$ saesplade search "%s" --size 3 --explain\n' "$q"
  cli search "$q" --size 3 --explain
done

printf '\nquickstart: done in %s s. Try: node dist/src/cli.js search "your question" --explain   (or --help)\n' "$(( $(date +%s) - t0 ))"
