import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { createEncoder } from '../encoder/index.js';
import { evaluateRun, parseQrels, type Qrels } from '../eval/metrics.js';
import { describeCpu, machineInfo } from '../machine.js';
import { createOpenSearchClient } from '../opensearch/client.js';
import { search, type SearchRequest } from '../search/search.js';
import { SEARCH_MODES, type SearchMode } from '../search/translator.js';
import type { SparseVector } from '../sparse.js';
import { benchGroup } from './bench.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { RANGES } from './options.js';
import { intOption, listOption, requestOptions, withQueryOptions } from './query-options.js';
import { percentile } from '../eval/stats.js';

/** One configuration to measure: a mode, optionally with its own top-k or two-phase split. */
export interface QueryVariant {
  name: string;
  mode: SearchMode;
  topK?: number;
  twoPhase?: number;
}

/** `concepts`, `bm25`, `hybrid`, `rrf`, optionally `:k=N` (query top-k) and `:2p=N` (two-phase, N heavy). */
export function parseVariant(spec: string): QueryVariant {
  const [mode, ...mods] = spec.split(':');
  if (!(SEARCH_MODES as readonly string[]).includes(mode ?? '')) throw new InvalidArgumentError(`variant "${spec}": mode must be one of ${SEARCH_MODES.join(', ')}`);
  const v: QueryVariant = { name: spec, mode: mode as SearchMode };
  for (const m of mods) {
    const [key, value] = m.split('=');
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || (key !== 'k' && key !== '2p')) throw new InvalidArgumentError(`variant "${spec}": expected :k=N or :2p=N, got ":${m}"`);
    if (key === 'k') v.topK = n;
    else v.twoPhase = n;
  }
  return v;
}

interface Row {
  variant: string;
  concurrency: number;
  queries: number;
  p50: number;
  p95: number;
  p99: number;
  qps: number;
  /** OpenSearch's own `took`, median (ms). */
  tookP50: number;
  conceptsUsed: number;
  ndcg10?: number;
}

function readQueries(file: string, limit: number): { id: string; text: string }[] {
  const out: { id: string; text: string }[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const q = JSON.parse(line) as { _id?: string; id?: string; text?: string };
    const id = String(q._id ?? q.id ?? out.length);
    if (typeof q.text === 'string' && q.text.trim()) out.push({ id, text: q.text });
  }
  return out.slice(0, limit);
}

/** `saesplade bench query`: latency percentiles and QPS per variant and concurrency, concepts vs BM25 on one index. */
export function register(program: Command): void {
  withQueryOptions(
    withConfigOptions(
      benchGroup(program)
        .command('query')
        .description('query latency (p50/p95/p99) and QPS for concepts vs BM25 on the same index, with a BEIR queries.jsonl')
        .requiredOption('--queries <file>', 'BEIR queries.jsonl ({"_id","text"} per line)')
        .option('--qrels <tsv>', 'BEIR qrels TSV: also report nDCG@10 over the queries run (only those judged)')
        .option('--limit <n>', 'use the first n queries (with --qrels: the first n judged ones)', intOption('--limit', 1), 200)
        .option('--concurrency <list>', 'concurrent clients, comma-separated', listOption, ['1', '4'])
        .option('--variants <list>', 'what to compare: concepts, bm25, hybrid, rrf, with optional :k=N (query top-k) or :2p=N (two-phase)', listOption, [
          'concepts',
          'bm25',
        ])
        .option('-n, --size <n>', 'hits per query', intOption('--size', 1), 10)
        .option('--warmup <n>', 'untimed queries (each variant) first', intOption('--warmup', 0), 10)
        .option('--end-to-end', "time query encoding inside each concept search (what a caller waits for); by default queries are encoded once before the timed loop and the latency is the search engine's")
        .option('--json', 'print the result as JSON'),
    ),
  ).action(async (opts: Record<string, any>) => {
    const config = configFrom(opts);
    const variants = (opts.variants as string[]).map(parseVariant);
    const concurrency = (opts.concurrency as string[]).map((c) => intOption('--concurrency', ...RANGES.concurrency)(c));
    let qrels: Qrels | undefined;
    let queries = readQueries(opts.queries, Number.MAX_SAFE_INTEGER);
    if (opts.qrels) {
      qrels = parseQrels(readFileSync(opts.qrels, 'utf8'));
      queries = queries.filter((q) => qrels!.has(q.id));
    }
    queries = queries.slice(0, opts.limit);
    if (queries.length === 0) throw new Error(`no queries in ${opts.queries}${qrels ? ' with judgements in ' + opts.qrels : ''}`);

    const client = createOpenSearchClient(config);
    const needsEncoder = variants.some((v) => v.mode !== 'bm25');
    const encoder = needsEncoder ? await createEncoder({ modelDir: config.modelDir, device: config.device }) : undefined;
    try {
      // Encode once, outside the timed loop: the latency compared is the search engine's.
      const vectors: SparseVector[] = [];
      const encodeMs: number[] = [];
      const base = requestOptions(opts);
      if (encoder) {
        for (const q of queries) {
          const t = performance.now();
          const [v] = await encoder.encode([q.text], 'query', base.inferenceFree ? { inferenceFree: true } : undefined);
          encodeMs.push(performance.now() - t);
          vectors.push(v!);
        }
      }
      encodeMs.sort((a, b) => a - b);
      const rows: Row[] = [];
      const deps = { client, encoder };
      const req = (v: QueryVariant, i: number): SearchRequest => {
        const r: SearchRequest = { index: config.index, query: queries[i]!.text, mode: v.mode, size: opts.size, ...base };
        if (encoder && !opts.endToEnd) r.vector = vectors[i]!;
        if (v.topK !== undefined) r.pruning = { ...base.pruning, topK: v.topK };
        if (v.twoPhase !== undefined) r.twoPhase = { heavy: v.twoPhase, window: opts.window };
        return r;
      };
      for (let i = 0; i < Math.min(opts.warmup, queries.length); i++) for (const v of variants) await search(deps, req(v, i));
      // Variants are interleaved query by query (rotating which goes first), so that the load of a
      // shared machine, which drifts over seconds, falls on every variant alike.
      for (const c of concurrency) {
        const acc = variants.map(() => ({ lat: [] as number[], took: [] as number[], used: 0, run: new Map<string, string[]>() }));
        let next = 0;
        await Promise.all(
          Array.from({ length: c }, async () => {
            for (let i = next++; i < queries.length; i = next++) {
              for (let j = 0; j < variants.length; j++) {
                const k = (i + j) % variants.length;
                const t = performance.now();
                const res = await search(deps, req(variants[k]!, i));
                acc[k]!.lat.push(performance.now() - t);
                acc[k]!.took.push(res.took);
                acc[k]!.used += res.queryVector.used;
                acc[k]!.run.set(queries[i]!.id, res.hits.map((h) => h.id));
              }
            }
          }),
        );
        variants.forEach((v, k) => {
          const a = acc[k]!;
          a.lat.sort((x, y) => x - y);
          a.took.sort((x, y) => x - y);
          const sum = a.lat.reduce((s, x) => s + x, 0);
          const row: Row = {
            variant: v.name,
            concurrency: c,
            queries: queries.length,
            p50: percentile(a.lat, 50),
            p95: percentile(a.lat, 95),
            p99: percentile(a.lat, 99),
            // c clients each spending `sum / c` ms on this variant's queries
            qps: (queries.length * c * 1000) / sum,
            tookP50: percentile(a.took, 50),
            conceptsUsed: a.used / queries.length,
          };
          if (qrels) {
            const judged: Qrels = new Map([...qrels].filter(([qid]) => a.run.has(qid)));
            row.ndcg10 = evaluateRun(a.run, judged).ndcg10;
          }
          rows.push(row);
        });
      }
      const ratios = concurrency.map((c) => {
        const cr = rows.find((r) => r.variant === 'concepts' && r.concurrency === c);
        const br = rows.find((r) => r.variant === 'bm25' && r.concurrency === c);
        return cr && br ? { concurrency: c, p50: cr.p50 / br.p50, qps: cr.qps / br.qps } : undefined;
      });
      const result = {
        index: config.index,
        queries: queries.length,
        size: opts.size,
        encodeMs: encoder ? { p50: percentile(encodeMs, 50), p95: percentile(encodeMs, 95) } : undefined,
        endToEnd: Boolean(opts.endToEnd),
        inferenceFree: Boolean(base.inferenceFree),
        rows,
        conceptsVsBm25: ratios.filter(Boolean),
        machine: machineInfo(),
      };
      emit(opts.json, result, () => {
        const out = [
          `machine: ${describeCpu(result.machine)}`,
          `index ${config.index}, ${queries.length} queries, size ${opts.size}` +
            (result.encodeMs
              ? `; query encoding${result.inferenceFree ? ' (inference-free)' : ''} ${result.endToEnd ? 'inside' : 'not in'} the latencies, ` +
                `alone p50 ${result.encodeMs.p50.toFixed(1)} ms, p95 ${result.encodeMs.p95.toFixed(1)} ms`
              : '') +
            '\nvariants run interleaved query by query; QPS = concurrency / mean latency; took = OpenSearch took, median',
          `${'variant'.padEnd(18)} ${'conc'.padStart(4)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'QPS'.padStart(8)} ${'took p50'.padStart(8)} ${'concepts'.padStart(8)}${qrels ? ' nDCG@10'.padStart(9) : ''}`,
        ];
        for (const r of rows) {
          out.push(
            `${r.variant.padEnd(18)} ${String(r.concurrency).padStart(4)} ${r.p50.toFixed(2).padStart(8)} ${r.p95.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ` +
              `${r.qps.toFixed(1).padStart(8)} ${r.tookP50.toFixed(0).padStart(8)} ${r.conceptsUsed.toFixed(1).padStart(8)}${r.ndcg10 !== undefined ? r.ndcg10.toFixed(4).padStart(9) : ''}`,
          );
        }
        for (const r of result.conceptsVsBm25) out.push(`concepts / bm25 at concurrency ${r!.concurrency}: p50 x${r!.p50.toFixed(2)}, QPS x${r!.qps.toFixed(2)}`);
        return out.join('\n');
      });
    } finally {
      await encoder?.close();
      await client.close();
    }
  });
}
