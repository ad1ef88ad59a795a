#!/usr/bin/env bash
# docs/ADAPT.md's measurements, one collection per call (needs the services: scripts/services.sh start):
#   scripts/adapt-eval.sh <BEIR dir> <out dir> [saesplade adapt options...]
# 1. `saesplade adapt` on the collection's documents only (no queries, no judgements) -> <out>/<name>/
#    (skipped when that package exists), its result and /usr/bin/time figures in <out>/<name>.adapt.*;
# 2. `saesplade eval` of the default model and the adapted one, one index each, BM25 on the same index
#    in each run -> <out>/<name>.eval.json, TREC runs in <out>/<name>.runs/<package>/;
# 3. nDCG@10 on the dev / test halves of the judged queries (odd / even ids) -> <out>/<name>.split.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ds=$(realpath "$1"); root=$(realpath -m "$2"); shift 2
name=$(basename "$ds")
pkg="$root/$name"
mkdir -p "$root"
if [[ ! -f "$pkg/manifest.json" ]]; then
  /usr/bin/time -v -o "$root/$name.adapt.time" node dist/src/cli.js adapt --corpus "$ds" --out "$pkg" --json "$@" \
    > "$root/$name.adapt.json" 2> "$root/$name.adapt.log"
fi
node dist/src/cli.js eval --dataset "$ds" --model "models/default,$pkg" --run-dir "$root/$name.runs" --recreate \
  --no-progress --json > "$root/$name.eval.json" 2> "$root/$name.eval.log" || [[ $? == 3 ]]
py=model/.venv-adapt/bin/python
(cd model && ../$py -m saesplade_model.split_score "$ds/qrels/test.tsv" "$root/$name.runs"/*/*.trec --json) > "$root/$name.split.json"
(cd model && ../$py -m saesplade_model.split_score "$ds/qrels/test.tsv" "$root/$name.runs"/*/*.trec)
