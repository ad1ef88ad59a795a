#!/usr/bin/env bash
# The benchmark tables of docs/BENCHMARKS.md, measured through the real system on the shared test
# collections: for each collection, `saesplade eval` (ingest through the queue + worker, or reuse the
# index built from the same corpus with the same model; quality of concepts / BM25 / hybrid / RRF,
# sparsity, FLOPS, size on disk, latency), `bench query` (latency and QPS at concurrency 1 and 4,
# concepts vs BM25 on the same index) and `bench ingest` (end-to-end docs/s vs the raw encoder on
# the same texts, a small slice), then renders docs/BENCHMARKS.md from the JSON results.
#
#   scripts/bench-all.sh                         all four collections, in the order cisi cacm scifact npl
#   DATASETS="cisi cacm" scripts/bench-all.sh    some of them (results already in $BENCH_WORK are kept
#                                                and rendered too)
#   DEADLINE=12:05 scripts/bench-all.sh          start no new collection after 12:05 (local clock); the
#                                                ones left are marked "not run" with the reason
#   RENDER_ONLY=1 scripts/bench-all.sh           only re-render docs/BENCHMARKS.md from $BENCH_WORK
# The summary table also goes into README.md between <!-- bench-all:start --> and <!-- bench-all:end -->
# (README=other.md for another file; a file without the markers is left alone).
# Other knobs: DATA_DIR (/work/shared/datasets), BENCH_WORK (.run/bench), OUT (docs/BENCHMARKS.md),
# INGEST_LIMIT (128 documents for bench ingest), QUERY_LIMIT (200 queries for bench query),
# EVAL_ARGS (extra eval flags, e.g. "--hybrid-weights 1,0.1"). Needs the services running
# (scripts/services.sh start). Each result is a JSON file in $BENCH_WORK; indexes are kept
# (eval-<collection>-<model>-<version>), so a second run reuses them instead of re-encoding.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DATA_DIR=${DATA_DIR:-/work/shared/datasets}
BENCH_WORK=${BENCH_WORK:-.run/bench}
OUT=${OUT:-docs/BENCHMARKS.md}
DATASETS=${DATASETS:-cisi cacm scifact npl}
INGEST_LIMIT=${INGEST_LIMIT:-128}
QUERY_LIMIT=${QUERY_LIMIT:-200}
EVAL_ARGS=${EVAL_ARGS:-}
DEADLINE=${DEADLINE:-}
mkdir -p "$BENCH_WORK/runs"

if [[ -z "${RENDER_ONLY:-}" ]]; then
  if npm run --silent build >"$BENCH_WORK/build.log" 2>&1; then
    cli() { node dist/src/cli.js "$@"; }
  else
    echo "bench-all: npm run build failed (see $BENCH_WORK/build.log); running from the sources with tsx" >&2
    cli() { node --import tsx src/cli.ts "$@"; }
  fi

  for d in $DATASETS; do
    rm -f "$BENCH_WORK/$d.skipped"
    if [[ -n "$DEADLINE" && "$(date +%H:%M)" > "$DEADLINE" ]]; then
      echo "not run: out of time (the run started no collection after $DEADLINE; $(date -u +%FT%TZ))" >"$BENCH_WORK/$d.skipped"
      echo "bench-all: $d skipped (past $DEADLINE)" >&2
      continue
    fi
    dir="$DATA_DIR/$d"
    echo "== $d: eval ($(date +%T))" >&2
    # shellcheck disable=SC2086
    if ! cli eval --dataset "$dir" --reuse --force-merge --run-dir "$BENCH_WORK/runs" \
        --report "$BENCH_WORK/$d.eval.md" --json $EVAL_ARGS >"$BENCH_WORK/$d.eval.json.tmp" 2>"$BENCH_WORK/$d.eval.log"; then
      echo "not run: eval failed: $(tail -n 3 "$BENCH_WORK/$d.eval.log" | tr '\n' ' ')" >"$BENCH_WORK/$d.skipped"
      echo "bench-all: eval of $d failed, see $BENCH_WORK/$d.eval.log" >&2
      continue
    fi
    mv "$BENCH_WORK/$d.eval.json.tmp" "$BENCH_WORK/$d.eval.json"
    index=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).index.name)' "$BENCH_WORK/$d.eval.json")

    echo "== $d: bench query on $index ($(date +%T))" >&2
    cli bench query --index "$index" --queries "$dir/queries.jsonl" --qrels "$dir/qrels/test.tsv" \
      --limit "$QUERY_LIMIT" --concurrency 1,4 --variants concepts,bm25 --json \
      >"$BENCH_WORK/$d.query.json" 2>"$BENCH_WORK/$d.query.log" || echo "bench-all: bench query of $d failed" >&2

    echo "== $d: bench ingest, first $INGEST_LIMIT documents ($(date +%T))" >&2
    cli bench ingest --corpus "$dir/corpus.jsonl" --limit "$INGEST_LIMIT" --json \
      >"$BENCH_WORK/$d.ingest.json" 2>"$BENCH_WORK/$d.ingest.log" || echo "bench-all: bench ingest of $d failed" >&2
  done
fi

README=${README:-README.md} node scripts/bench-render.mjs "$BENCH_WORK" "$OUT" cisi cacm scifact npl
echo "bench-all: wrote $OUT" >&2
