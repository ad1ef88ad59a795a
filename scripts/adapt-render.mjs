#!/usr/bin/env node
// Renders docs/ADAPT.md's measured tables from scripts/adapt-eval.sh outputs:
//   node scripts/adapt-render.mjs <out dir of adapt-eval.sh> [collections...]  -> markdown on stdout
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = process.argv[2];
const names = process.argv.slice(3).length ? process.argv.slice(3) : ['scifact', 'cisi', 'cacm', 'npl'];
const REF = { scifact: 0.676, cisi: 0.368, cacm: 0.487, npl: 0.445 };
const f3 = (x) => (x === undefined || x === null ? '–' : x.toFixed(3));
const rows = [];
const splits = [];
const costs = [];
for (const n of names) {
  const ev = path.join(root, `${n}.eval.json`);
  if (!existsSync(ev)) continue;
  const runs = JSON.parse(readFileSync(ev, 'utf8')).runs;
  const base = runs[0];
  const ad = runs[1];
  const mode = (r, m) => r.modes.find((x) => x.mode === m);
  const m = JSON.parse(readFileSync(path.join(root, n, 'manifest.json'), 'utf8')).adapted;
  const c0 = mode(base, 'concepts').ndcg10;
  const c1 = mode(ad, 'concepts').ndcg10;
  rows.push(
    `| ${n} | ${f3(mode(ad, 'bm25').ndcg10)} | ${REF[n]} | ${f3(c0)} | **${f3(c1)}** | ${(100 * (c1 - c0)).toFixed(1)} | ${(100 * (c1 - REF[n])).toFixed(1)} | ${f3(mode(base, 'hybrid')?.ndcg10)} / ${f3(mode(ad, 'hybrid')?.ndcg10)} | ${base.sparsity.docNnz.toFixed(0)} / ${ad.sparsity.docNnz.toFixed(0)} | ${base.sparsity.queryNnzUsed.toFixed(0)} / ${ad.sparsity.queryNnzUsed.toFixed(0)} | ${base.ingest?.docsPerS ?? '–'} / ${ad.ingest?.docsPerS ?? '–'} |`,
  );
  const sp = path.join(root, `${n}.split.json`);
  if (existsSync(sp) && n !== 'scifact') {
    const s = JSON.parse(readFileSync(sp, 'utf8'));
    const get = (pkg, mode, half) => s[`${pkg}/${n}.${mode}.trec`]?.[half]?.ndcg10;
    const pkg = path.basename(root) === n ? n : n;
    splits.push(
      `| ${n} | ${f3(get('default', 'bm25', 'dev'))} / ${f3(get('default', 'bm25', 'test'))} | ${f3(get('default', 'concepts', 'dev'))} / ${f3(get('default', 'concepts', 'test'))} | ${f3(get(pkg, 'concepts', 'dev'))} / ${f3(get(pkg, 'concepts', 'test'))} |`,
    );
  }
  const hb = m.held_back;
  costs.push(
    `| ${n} | ${m.corpus.documents} | ${m.seconds.toFixed(0)} | ${Object.entries(m.timings_s).map(([k, v]) => `${k.replace(/_s$/, '')} ${v.toFixed(0)}`).join(', ')} | ${m.peak_rss_mb.toFixed(0)} | ${hb.base.teacher_ndcg10} → ${hb.adapted.teacher_ndcg10} (step ${hb.best_step}) | ${hb.base.known_item_mrr10} → ${hb.adapted.known_item_mrr10} | ${hb.better ? 'yes' : 'no'} |`,
  );
}
console.log(`| collection | BM25 (OpenSearch english, same index) | stemmed BM25 reference | default 2.0.0 concepts | adapted concepts | adapted − default (points) | adapted − stemmed BM25 (points) | hybrid default / adapted | nnz/doc default / adapted | nnz/query default / adapted | ingest docs/s default / adapted |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Dev / test halves (odd / even query ids) of the three collections with a dev split, nDCG@10 (dev / test):

| collection | BM25 (same index) | default 2.0.0 | adapted |
|---|---|---|---|
${splits.join('\n')}

Adapt runs (\`saesplade adapt\`, default settings, 300 steps):

| collection | documents | seconds | stages (s) | peak RSS MB | held-back teacher agreement nDCG@10 base → adapted | known-item MRR@10 base → adapted | better? |
|---|---|---|---|---|---|---|---|
${costs.join('\n')}`);
