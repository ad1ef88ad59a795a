import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import type { Command } from 'commander';
import { PACKAGE_ROOT } from '../config.js';
import { cliInvocation, configEnv } from '../ingest/spawn-worker.js';
import { describeCpu, machineInfo } from '../machine.js';
import { SEARCH_MODES, type SearchMode } from '../search/translator.js';
import { benchGroup } from './bench.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { RANGES, rangedInt } from './options.js';
import { intOption, listOption } from './query-options.js';

const DEFAULT_QUERIES = path.join(PACKAGE_ROOT, 'samples', 'scifact-mini', 'queries.jsonl');

export interface ServeBenchRow {
  mode: SearchMode;
  concurrency: number;
  requests: number;
  /** Responses per second (mean over the run). */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  /** Connection errors, timeouts and non-2xx answers. */
  errors: number;
  /** Server RSS after the cell, bytes. */
  rssBytes?: number;
}

function readQueries(file: string, limit: number): string[] {
  const out: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const q = JSON.parse(line) as { text?: string };
    if (typeof q.text === 'string' && q.text.trim()) out.push(q.text);
    if (out.length >= limit) break;
  }
  return out;
}

async function metricsValue(url: string, name: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(url + '/metrics')).text();
    const line = text.split('\n').find((l) => l.startsWith(name + ' '));
    return line ? Number(line.slice(name.length + 1)) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `saesplade serve --json` with the bench's config; resolves with its URL once it listens. */
export async function spawnServer(env: NodeJS.ProcessEnv, args: string[]): Promise<{ child: ChildProcess; url: string; compatUrl?: string }> {
  const { command, args: base } = cliInvocation();
  const child = spawn(command, [...base, 'serve', '--json', '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<{ url: string; compatUrl?: string }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        const m = JSON.parse(l);
        if (m.event === 'ready') resolve(m);
      } catch {
        /* not ours */
      }
    });
    child.once('exit', (code) => reject(new Error(`saesplade serve exited with code ${code} before it was ready`)));
  });
  return { child, url: ready.url, ...(ready.compatUrl ? { compatUrl: ready.compatUrl } : {}) };
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

export function formatServeBench(r: { rows: ServeBenchRow[]; machine: string; index: string; queries: number; durationS: number; server: string; rssMaxBytes?: number; loadAverage?: { start: number; end: number } }): string {
  const lines = [
    `bench serve: POST /v1/search on "${r.index}", ${r.queries} queries in rotation, ${r.durationS} s per cell, server ${r.server}; ${r.machine}` +
      (r.loadAverage ? `; load average ${r.loadAverage.start} → ${r.loadAverage.end}` : ''),
    'mode      c   requests   req/s    p50 ms   p90 ms   p99 ms  errors  RSS MB',
  ];
  for (const x of r.rows) {
    lines.push(
      `${x.mode.padEnd(8)} ${String(x.concurrency).padStart(3)} ${String(x.requests).padStart(10)} ${x.rps.toFixed(1).padStart(7)} ${x.p50.toFixed(1).padStart(8)} ${x.p90.toFixed(1).padStart(8)} ${x.p99.toFixed(1).padStart(8)} ${String(x.errors).padStart(7)} ${x.rssBytes ? (x.rssBytes / 2 ** 20).toFixed(0).padStart(7) : '      -'}`,
    );
  }
  const modes = [...new Set(r.rows.map((x) => x.mode))];
  if (modes.includes('bm25')) {
    for (const m of modes.filter((x) => x !== 'bm25')) {
      const ratios = [...new Set(r.rows.map((x) => x.concurrency))].map((c) => {
        const a = r.rows.find((x) => x.mode === m && x.concurrency === c);
        const b = r.rows.find((x) => x.mode === 'bm25' && x.concurrency === c);
        return a && b && b.p50 > 0 ? `c=${c} ×${(a.p50 / b.p50).toFixed(2)}` : `c=${c} -`;
      });
      lines.push(`p50 ${m} ÷ bm25: ${ratios.join(', ')}`);
    }
  }
  if (r.rssMaxBytes) lines.push(`server RSS (max over the run): ${(r.rssMaxBytes / 2 ** 20).toFixed(0)} MB`);
  return lines.join('\n');
}

/** `saesplade bench serve`: load-tests /v1/search through one server, concepts vs BM25 at each concurrency. */
export function register(program: Command): void {
  withConfigOptions(
    benchGroup(program)
      .command('serve')
      .description('load-test POST /v1/search (autocannon): throughput and p50/p90/p99 per mode and concurrency through one server, concepts vs BM25')
      .addHelpText(
        'after',
        `
Starts \`saesplade serve\` on a free port (or uses --url), then runs one autocannon cell per mode and
concurrency, alternating which mode goes first, each for --duration seconds, the queries in rotation.
The index must hold documents (e.g. the quickstart's). Encoding is part of the latency (it is part
of the service); \`bench query\` measures the search engine alone.`,
      )
      .option('--url <url>', 'an already running server (default: start one)')
      .option('--queries <file>', 'BEIR queries.jsonl', DEFAULT_QUERIES)
      .option('--limit <n>', 'queries in rotation', intOption('--limit', 1), 300)
      .option('--modes <list>', `modes to compare (${SEARCH_MODES.join(', ')})`, listOption, ['concepts', 'bm25'])
      .option('--concurrency <list>', 'concurrent connections, comma-separated', listOption, ['1', '8', '32'])
      .option('--duration <s>', 'seconds per cell', intOption('--duration', 1, 3600), 10)
      .option('--warmup <s>', 'untimed seconds per mode first', intOption('--warmup', 0, 600), 3)
      .option('-n, --size <n>', 'hits per query', intOption('--size', 1, 10_000), 10)
      .option('--encoder-workers <n>', 'encoder worker threads of the started server', rangedInt('--encoder-workers', [1, 64]), 2)
      .option('--threads <n>', 'onnxruntime threads of the started server in total', rangedInt('--threads', RANGES.threads))
      .option('--encoder-queue <n>', 'encoder queue bound of the started server (default 256: no 503 at c <= 256)', intOption('--encoder-queue', 0), 256)
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: Record<string, any>) => {
    const config = configFrom(opts);
    const modes = (opts.modes as string[]).map((m) => {
      if (!(SEARCH_MODES as readonly string[]).includes(m)) throw new Error(`--modes: "${m}" is not one of ${SEARCH_MODES.join(', ')}`);
      return m as SearchMode;
    });
    const concurrency = (opts.concurrency as string[]).map((c) => intOption('--concurrency', ...RANGES.concurrency)(c));
    const queries = readQueries(opts.queries, opts.limit);
    if (queries.length === 0) throw new Error(`no queries in ${opts.queries}`);

    let child: ChildProcess | undefined;
    let url: string = opts.url;
    if (!url) {
      const args = ['--encoder-workers', String(opts.encoderWorkers), '--encoder-queue', String(opts.encoderQueue)];
      if (opts.threads) args.push('--threads', String(opts.threads));
      ({ child, url } = await spawnServer({ ...configEnv(config), LOG_LEVEL: 'warn' }, args));
    }
    const rows: ServeBenchRow[] = [];
    let rssMax = 0;
    const loadStart = loadavg()[0]!;
    try {
      let n = 0;
      const cell = async (mode: SearchMode, connections: number, duration: number) =>
        run({
          url: url + '/v1/search',
          connections,
          duration,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          requests: [{ setupRequest: (req) => ({ ...req, body: JSON.stringify({ query: queries[n++ % queries.length], mode, size: opts.size }) }) }],
        });
      // An untimed round per mode: JIT, caches, the index model check, the encoder's first runs.
      if (opts.warmup > 0) for (const m of modes) await cell(m, 2, opts.warmup);
      for (const [k, c] of concurrency.entries()) {
        const order = k % 2 === 0 ? modes : [...modes].reverse();
        for (const mode of order) {
          const r = await cell(mode, c, opts.duration);
          const rss = await metricsValue(url, 'process_resident_memory_bytes');
          if (rss) rssMax = Math.max(rssMax, rss);
          rows.push({
            mode,
            concurrency: c,
            requests: r.requests.total,
            rps: r.requests.average,
            p50: r.latency.p50,
            p90: r.latency.p90,
            p99: r.latency.p99,
            mean: r.latency.mean,
            errors: r.errors + r.timeouts + r.non2xx,
            ...(rss ? { rssBytes: rss } : {}),
          });
        }
      }
    } finally {
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child!.once('exit', r));
      }
    }
    rows.sort((a, b) => a.concurrency - b.concurrency || modes.indexOf(a.mode) - modes.indexOf(b.mode));
    const machine = machineInfo();
    const result = {
      index: config.index,
      queries: queries.length,
      durationS: opts.duration,
      server: opts.url ? 'given by --url' : `started here (${opts.encoderWorkers} encoder thread(s), queue ${opts.encoderQueue})`,
      machine: describeCpu(machine),
      machineInfo: machine,
      rows,
      ...(rssMax ? { rssMaxBytes: rssMax } : {}),
      /** 1-minute load average at the start and the end of the timed cells (a shared machine). */
      loadAverage: { start: Math.round(loadStart * 100) / 100, end: Math.round(loadavg()[0]! * 100) / 100 },
    };
    emit(opts.json, result, () => formatServeBench(result));
  });
}
