/**
 * `saesplade bench compat`: what the OpenSearch-compatible endpoint costs, measured in one run
 * against baselines of the same run: a plain `_search` through the endpoint against the cluster
 * directly (the pass-through overhead), and a `_search` with a concept_sparse clause through the
 * endpoint against POST /v1/search of the same server (`saesplade search` over HTTP: the same
 * encoder, the same OpenSearch). Requests alternate between the two sides, one at a time, on
 * kept-alive connections, so that a busy machine slows both alike.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { PACKAGE_ROOT } from '../config.js';
import { configEnv } from '../ingest/spawn-worker.js';
import { describeCpu, machineInfo } from '../machine.js';
import { benchGroup } from './bench.js';
import { spawnServer } from './bench-serve.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { intOption } from './query-options.js';

const DEFAULT_QUERIES = path.join(PACKAGE_ROOT, 'samples', 'scifact-mini', 'queries.jsonl');

export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

export interface CompatBenchResult {
  machine: string;
  index: string;
  queries: number;
  rounds: number;
  /** 1-minute load average before and after: other work on the machine slows both sides, but widens the spread. */
  loadAverage: { start: number; end: number };
  passThrough: { direct: LatencySummary; endpoint: LatencySummary; overheadP50Ms: number; overheadP99Ms: number };
  /** A request without a body (`GET /_cluster/health`): the proxy hop alone, no body read here. */
  bodyless: { direct: LatencySummary; endpoint: LatencySummary; overheadP50Ms: number };
  concepts: { v1Search: LatencySummary; endpoint: LatencySummary; ratioP50: number; differenceP50Ms: number };
}

export function summarize(ms: number[]): LatencySummary {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length) };
}

async function timed(url: string, init: RequestInit): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, init);
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${res.status}`);
  return ms;
}

function readQueries(file: string, limit: number): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => String((JSON.parse(l) as { text?: string }).text ?? ''))
    .filter((t) => t.trim())
    .slice(0, limit);
}

const fmt = (s: LatencySummary) => `p50 ${s.p50.toFixed(2)}  p90 ${s.p90.toFixed(2)}  p99 ${s.p99.toFixed(2)}  mean ${s.mean.toFixed(2)} ms (n ${s.n})`;

export function formatCompatBench(r: CompatBenchResult): string {
  return [
    `OpenSearch-compatible endpoint on ${r.machine}`,
    `index ${r.index}, ${r.queries} queries x ${r.rounds} rounds, one request at a time, the two sides alternating; load average ${r.loadAverage.start.toFixed(2)} → ${r.loadAverage.end.toFixed(2)}`,
    '',
    'plain _search (BM25 match), pass-through:',
    `  cluster directly        ${fmt(r.passThrough.direct)}`,
    `  through the endpoint    ${fmt(r.passThrough.endpoint)}`,
    `  overhead                p50 ${r.passThrough.overheadP50Ms.toFixed(2)} ms, p99 ${r.passThrough.overheadP99Ms.toFixed(2)} ms`,
    '',
    'GET /_cluster/health (no body), pass-through:',
    `  cluster directly        ${fmt(r.bodyless.direct)}`,
    `  through the endpoint    ${fmt(r.bodyless.endpoint)}`,
    `  overhead                p50 ${r.bodyless.overheadP50Ms.toFixed(2)} ms`,
    '',
    '_search with a concept_sparse clause (encode + translate + search):',
    `  POST /v1/search         ${fmt(r.concepts.v1Search)}`,
    `  endpoint _search        ${fmt(r.concepts.endpoint)}`,
    `  endpoint / v1           ${r.concepts.ratioP50.toFixed(3)}x at p50 (${r.concepts.differenceP50Ms >= 0 ? '+' : ''}${r.concepts.differenceP50Ms.toFixed(2)} ms)`,
  ].join('\n');
}

export function register(program: Command): void {
  withConfigOptions(
    benchGroup(program)
      .command('compat')
      .description('the OpenSearch-compatible endpoint\'s cost: pass-through _search vs the cluster, concept _search vs POST /v1/search, in one run')
      .addHelpText(
        'after',
        `
Starts \`saesplade serve --compat-port\` on free ports (its own process) and times requests one at a time,
alternating the two sides of each comparison. The index must hold documents built with the
configured model (e.g. the quickstart's).`,
      )
      .option('--queries <file>', 'BEIR queries.jsonl', DEFAULT_QUERIES)
      .option('--limit <n>', 'queries', intOption('--limit', 1), 100)
      .option('--rounds <n>', 'passes over the queries', intOption('--rounds', 1, 1000), 3)
      .option('--warmup <n>', 'untimed requests per side first (the proxy path needs a few hundred to be JIT-compiled)', intOption('--warmup', 0, 10_000), 300)
      .option('-n, --size <n>', 'hits per query', intOption('--size', 1, 10_000), 10)
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: Record<string, any>) => {
    const config = configFrom(opts);
    const queries = readQueries(opts.queries, opts.limit);
    if (queries.length === 0) throw new Error(`no queries in ${opts.queries}`);
    // A server process of its own, as in production: the application and the endpoint do not share an event loop.
    const { child, url, compatUrl } = await spawnServer({ ...configEnv(config), LOG_LEVEL: 'warn' }, ['--compat-port', '0']);
    const server = { url, compatUrl: compatUrl! };
    try {
      const index = encodeURIComponent(config.index);
      const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const plain = (q: string) => json({ size: opts.size, query: { multi_match: { query: q, fields: ['title', 'text'] } }, _source: false });
      const sides = {
        direct: (q: string) => timed(`${config.opensearchUrl.replace(/\/$/, '')}/${index}/_search`, plain(q)),
        endpoint: (q: string) => timed(`${server.compatUrl}/${index}/_search`, plain(q)),
        healthDirect: (_q: string) => timed(`${config.opensearchUrl.replace(/\/$/, '')}/_cluster/health`, {}),
        healthEndpoint: (_q: string) => timed(`${server.compatUrl}/_cluster/health`, {}),
        v1: (q: string) => timed(`${server.url}/v1/search`, json({ index: config.index, query: q, size: opts.size, source: false })),
        concepts: (q: string) => timed(`${server.compatUrl}/${index}/_search`, json({ size: opts.size, _source: false, query: { concept_sparse: { concepts: { query_text: q } } } })),
      };
      for (let i = 0; i < opts.warmup; i++) {
        const q = queries[i % queries.length]!;
        for (const f of Object.values(sides)) await f(q);
      }
      const loadStart = loadavg()[0]!;
      const ms: Record<keyof typeof sides, number[]> = { direct: [], endpoint: [], healthDirect: [], healthEndpoint: [], v1: [], concepts: [] };
      let k = 0;
      for (let round = 0; round < opts.rounds; round++) {
        for (const q of queries) {
          // Alternate which side goes first, so neither always meets a warm cache.
          const pairs: [keyof typeof sides, keyof typeof sides][] = [
            ['direct', 'endpoint'],
            ['healthDirect', 'healthEndpoint'],
            ['v1', 'concepts'],
          ];
          for (const [a, b] of pairs) {
            const [x, y] = k % 2 === 0 ? [a, b] : [b, a];
            ms[x].push(await sides[x](q));
            ms[y].push(await sides[y](q));
          }
          k++;
        }
      }
      const direct = summarize(ms.direct);
      const endpoint = summarize(ms.endpoint);
      const v1Search = summarize(ms.v1);
      const concepts = summarize(ms.concepts);
      const result: CompatBenchResult = {
        machine: describeCpu(machineInfo()),
        index: config.index,
        queries: queries.length,
        rounds: opts.rounds,
        loadAverage: { start: loadStart, end: loadavg()[0]! },
        passThrough: { direct, endpoint, overheadP50Ms: endpoint.p50 - direct.p50, overheadP99Ms: endpoint.p99 - direct.p99 },
        bodyless: { direct: summarize(ms.healthDirect), endpoint: summarize(ms.healthEndpoint), overheadP50Ms: summarize(ms.healthEndpoint).p50 - summarize(ms.healthDirect).p50 },
        concepts: { v1Search, endpoint: concepts, ratioP50: concepts.p50 / v1Search.p50, differenceP50Ms: concepts.p50 - v1Search.p50 },
      };
      emit(opts.json, result, () => formatCompatBench(result));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
}
