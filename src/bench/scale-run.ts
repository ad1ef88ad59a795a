import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../config.js';
import { percentile } from '../eval/stats.js';
import type { Client } from '../opensearch/client.js';
import { translate, type SingleSearchPlan } from '../search/translator.js';
import { SyntheticCollection, type SyntheticDoc } from './scale-generate.js';
import type { ScaleProfile } from './scale-profile.js';

/*
 * `bench scale`: one synthetic index grown in steps (10k, then 100k, then 1M documents: the first N documents
 * are the same at every size), and at each size the latency of exact concept search, two-phase and BM25 at
 * concurrency 1 and 4, recall@10 of two-phase against exact, index bytes per document and build time.
 * Latency is the client's wall time of one `_search` with the translator's body (the query vectors are the
 * profile's real encoded queries, so encoding is not part of it: it does not grow with N).
 */

export interface ScaleVariant {
  name: string;
  mode: 'concepts' | 'bm25';
  twoPhase?: number;
}

export const DEFAULT_VARIANTS: ScaleVariant[] = [
  { name: 'concepts (exact)', mode: 'concepts' },
  { name: 'two-phase 16', mode: 'concepts', twoPhase: 16 },
  { name: 'two-phase 32', mode: 'concepts', twoPhase: 32 },
  { name: 'bm25', mode: 'bm25' },
];

export interface ScaleRow {
  n: number;
  variant: string;
  concurrency: number;
  queries: number;
  p50: number;
  p99: number;
  qps: number;
  tookP50: number;
  recall10?: number;
}

export interface ScaleSize {
  n: number;
  buildSeconds: number;
  cumulativeBuildSeconds: number;
  storeBytes: number;
  bytesPerDoc: number;
  segments: number;
  rows: ScaleRow[];
}

export interface ScaleChecks {
  profileNnzMean: number;
  generatedNnzMean: number;
  /** Pearson correlation of each concept's df share, generated (first docs) against the profile. */
  dfShareCorrelation: number;
  /** Share of all postings held by the profile's 100 most frequent concepts: profile and generated. */
  top100ShareProfile: number;
  top100ShareGenerated: number;
  checkedDocs: number;
  profileWordsMean: number;
  generatedWordsMean: number;
}

export interface ScaleOptions {
  client: Client;
  profile: ScaleProfile;
  sizes: number[];
  index: string;
  queries: number;
  concurrency: number[];
  variants?: ScaleVariant[];
  warmup?: number;
  seed?: number;
  log?: (msg: string) => void;
  onBuild?: (done: number, total: number) => void;
}

export async function runScale(o: ScaleOptions): Promise<{ sizes: ScaleSize[]; checks: ScaleChecks }> {
  const log = o.log ?? (() => {});
  const coll = new SyntheticCollection(o.profile, o.seed ?? 1);
  const variants = o.variants ?? DEFAULT_VARIANTS;
  const sizes = [...o.sizes].sort((a, b) => a - b);
  await o.client.indices.delete({ index: o.index, ignore_unavailable: true } as any);
  const body = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'mappings', 'concepts-index.json'), 'utf8'));
  body.settings.index.refresh_interval = '-1';
  await o.client.indices.create({ index: o.index, body } as any);
  const checks = newChecks();
  const out: ScaleSize[] = [];
  let have = 0;
  let cumulative = 0;
  for (const n of sizes) {
    const t0 = Date.now();
    await bulkRange(o.client, o.index, coll, have, n, checks, (d) => o.onBuild?.(d, sizes[sizes.length - 1]!));
    await o.client.indices.refresh({ index: o.index });
    const buildSeconds = (Date.now() - t0) / 1000;
    cumulative += buildSeconds;
    have = n;
    const stats = (await o.client.indices.stats({ index: o.index, metric: 'store,segments' } as any)).body as any;
    const prim = stats.indices[o.index].primaries;
    const size: ScaleSize = {
      n,
      buildSeconds,
      cumulativeBuildSeconds: cumulative,
      storeBytes: prim.store.size_in_bytes,
      bytesPerDoc: prim.store.size_in_bytes / n,
      segments: prim.segments.count,
      rows: [],
    };
    log(`${n} documents: built in ${buildSeconds.toFixed(0)} s, ${(size.bytesPerDoc).toFixed(0)} bytes/doc, ${size.segments} segments`);
    const exactTop: Map<string, string[]> = new Map();
    for (const v of variants) {
      for (const c of o.concurrency) {
        const row = await measure(o, n, v, c, exactTop);
        size.rows.push(row);
        log(`  ${v.name} c=${c}: p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms` + (row.recall10 !== undefined ? `, recall@10 ${row.recall10.toFixed(3)}` : ''));
      }
    }
    out.push(size);
  }
  return { sizes: out, checks: finishChecks(checks, o.profile) };
}

async function bulkRange(client: Client, index: string, coll: SyntheticCollection, from: number, to: number, checks: CheckState, progress: (d: number) => void) {
  let k = from;
  let firstDrop = '';
  async function* docs(): AsyncGenerator<SyntheticDoc> {
    for (; k < to; k++) {
      const d = coll.doc(k);
      observe(checks, d);
      if (k % 5000 === 0) progress(k);
      yield d;
    }
  }
  const res = await client.helpers.bulk({
    datasource: docs(),
    onDocument: (d: SyntheticDoc) => ({ index: { _index: index, _id: d.id } }),
    flushBytes: 4 << 20,
    concurrency: 2,
    retries: 5,
    wait: 2000,
    onDrop: (d: any) => {
      firstDrop ||= `${d.document?.id}: ${JSON.stringify(d.error).slice(0, 300)}`;
    },
  } as any, { requestTimeout: 120_000 } as any);
  const r = res as unknown as { failed: number; successful: number };
  if (r.failed > 0) throw new Error(`bench scale: ${r.failed} synthetic documents were refused by the cluster; the first: ${firstDrop}`);
  progress(to);
}

function planOf(v: ScaleVariant, q: ScaleProfile['queries'][number]): SingleSearchPlan {
  const plan = translate({
    text: q.text,
    vector: { indices: Uint32Array.from(q.indices), values: Float32Array.from(q.values) },
    mode: v.mode,
    size: 10,
    source: false,
    twoPhase: v.twoPhase ? { heavy: v.twoPhase } : undefined,
    textFields: ['text'],
  });
  if (plan.kind !== 'single') throw new Error('bench scale: an RRF plan was not expected');
  return plan;
}

async function measure(o: ScaleOptions, n: number, v: ScaleVariant, conc: number, exactTop: Map<string, string[]>): Promise<ScaleRow> {
  const qs = o.profile.queries.filter((q) => q.indices.length > 0);
  const list = Array.from({ length: o.queries }, (_, i) => qs[i % qs.length]!);
  const warm = o.warmup ?? 20;
  for (let i = 0; i < Math.min(warm, list.length); i++) await o.client.search({ index: o.index, body: planOf(v, list[i]!).body } as any);
  const lat: number[] = [];
  const took: number[] = [];
  const overlaps: number[] = [];
  let next = 0;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (let i = next++; i < list.length; i = next++) {
        const q = list[i]!;
        const body = planOf(v, q).body;
        const s = process.hrtime.bigint();
        const res = (await o.client.search({ index: o.index, body } as any)).body as any;
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
        took.push(res.took);
        const ids: string[] = res.hits.hits.map((h: any) => h._id);
        if (conc === 1 && i < qs.length) {
          if (v.mode === 'concepts' && !v.twoPhase) exactTop.set(q.id, ids);
          else if (v.twoPhase) {
            const ex = exactTop.get(q.id);
            if (ex && ex.length) overlaps.push(ids.filter((x) => ex.includes(x)).length / ex.length);
          }
        }
      }
    }),
  );
  const wall = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  took.sort((a, b) => a - b);
  return {
    n,
    variant: v.name,
    concurrency: conc,
    queries: list.length,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    qps: list.length / wall,
    tookP50: percentile(took, 50),
    recall10: overlaps.length ? overlaps.reduce((a, b) => a + b, 0) / overlaps.length : undefined,
  };
}

interface CheckState {
  docs: number;
  nnz: number;
  words: number;
  df: Map<string, number>;
}

const CHECK_DOCS = 50_000;

function newChecks(): CheckState {
  return { docs: 0, nnz: 0, words: 0, df: new Map() };
}

function observe(s: CheckState, d: SyntheticDoc) {
  if (s.docs >= CHECK_DOCS) return;
  s.docs++;
  const cs = Object.keys(d.concepts);
  s.nnz += cs.length;
  s.words += d.text ? d.text.split(' ').length : 0;
  for (const c of cs) s.df.set(c, (s.df.get(c) ?? 0) + 1);
}

function finishChecks(s: CheckState, p: ScaleProfile): ScaleChecks {
  const keys = Object.keys(p.df);
  const totP = keys.reduce((a, c) => a + p.df[c]!, 0);
  let totG = 0;
  s.df.forEach((v) => (totG += v));
  const xs = keys.map((c) => p.df[c]! / totP);
  const ys = keys.map((c) => (s.df.get(c) ?? 0) / Math.max(1, totG));
  const top = [...keys].sort((a, b) => p.df[b]! - p.df[a]!).slice(0, 100);
  return {
    profileNnzMean: mean(p.nnz),
    generatedNnzMean: s.nnz / Math.max(1, s.docs),
    dfShareCorrelation: pearson(xs, ys),
    top100ShareProfile: top.reduce((a, c) => a + p.df[c]!, 0) / totP,
    top100ShareGenerated: top.reduce((a, c) => a + (s.df.get(c) ?? 0), 0) / Math.max(1, totG),
    checkedDocs: s.docs,
    profileWordsMean: mean(p.words),
    generatedWordsMean: s.words / Math.max(1, s.docs),
  };
}

function mean(a: number[]): number {
  return a.reduce((x, y) => x + y, 0) / Math.max(1, a.length);
}

function pearson(x: number[], y: number[]): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy || 1);
}
