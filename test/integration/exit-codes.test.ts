/**
 * The CLI's exit codes (README, "Exit codes"), pinned on the built CLI (dist/src/cli.js: `npm run
 * build` first): 0 ok, 1 failed or refused, 3 an eval figure outside its tolerance, 69 a service
 * unavailable, 130 a worker stopped by a second signal. Needs OpenSearch and Redis (scripts/services.sh start).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PACKAGE_ROOT } from '../../src/config.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { BUILT_CLI, runBuiltCli } from '../helpers/cli.js';

const SAMPLE = path.join(PACKAGE_ROOT, 'samples', 'scifact-mini');
const stamp = `${process.pid}-${Date.now().toString(36)}`;
const INDEX = `test-exit-${stamp}`;

const cli = (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000) => runBuiltCli(args, env, timeoutMs);

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
}

let work: string;
let dataset: string;

/** A BEIR directory named `exitset`: the first 2 judged queries, their relevant documents and 3 others. */
function writeTinySet(dir: string): void {
  mkdirSync(path.join(dir, 'qrels'), { recursive: true });
  const queries = lines(path.join(SAMPLE, 'queries.jsonl')).slice(0, 2);
  const qids = new Set(queries.map((l) => String(JSON.parse(l)._id)));
  const qrelRows = lines(path.join(SAMPLE, 'qrels', 'test.tsv')).slice(1).filter((l) => qids.has(l.split('\t')[0]!));
  const relevant = new Set(qrelRows.map((l) => l.split('\t')[1]!));
  const corpus = lines(path.join(SAMPLE, 'corpus.jsonl'));
  const docs = [...corpus.filter((l) => relevant.has(String(JSON.parse(l)._id))), ...corpus.filter((l) => !relevant.has(String(JSON.parse(l)._id))).slice(0, 3)];
  writeFileSync(path.join(dir, 'corpus.jsonl'), docs.join('\n') + '\n');
  writeFileSync(path.join(dir, 'queries.jsonl'), queries.join('\n') + '\n');
  writeFileSync(path.join(dir, 'qrels', 'test.tsv'), ['query-id\tcorpus-id\tscore', ...qrelRows].join('\n') + '\n');
}

/** A REPORT.md whose shipped-graph row says nDCG@10 `ndcg` for the collection `exitset`. */
function writeReport(file: string, ndcg: number): void {
  writeFileSync(
    file,
    [
      '| system | exitset nDCG@10 / MRR@10 / R@100 |',
      '|---|---|',
      `| SAE-SPLADE shipped graph: int8 weights, fp32 activations (ONNX, end to end) | ${ndcg.toFixed(3)} / 0.500 / 0.900 |`,
      '',
    ].join('\n'),
  );
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'saesplade-exit-'));
  dataset = path.join(work, 'exitset');
  writeTinySet(dataset);
});

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  const client = createOpenSearchClient(loadConfig({ logLevel: 'warn' }));
  await client.indices.delete({ index: INDEX }, { ignore: [404] }).catch(() => {});
  await client.close();
});

describe('exit codes', () => {
  it('--version prints the version in package.json, exit 0', () => {
    const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = cli(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('a bad index name: 1, one line', () => {
    const r = cli(['ingest', path.join(dataset, 'corpus.jsonl'), '-i', 'Not-Lower'], {}, 30_000);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*not lower case/);
  });

  it('a bad configuration value: 1', () => {
    const r = cli(['status', 'x', '--queue', 'a:b'], {}, 30_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: invalid configuration/);
  });

  it('Redis unreachable: 69', () => {
    const r = cli(['status', 'x', '--redis-url', 'redis://127.0.0.1:9'], {}, 60_000);
    expect(r.status).toBe(69);
    expect(r.stderr).toMatch(/^error: Redis/);
  });

  it('doctor with a failed check: 1, its report and no error line', () => {
    const r = cli(['doctor', '--json', '--model', path.join(work, 'no-such-model')], {}, 60_000);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).ok).toBe(false);
    expect(r.stderr).not.toMatch(/^error:/m);
  });

  it('eval: 3 when the OpenSearch-vs-Python gap is outside the tolerance, 0 within it', () => {
    const far = path.join(work, 'REPORT-far.md');
    writeReport(far, 0.001);
    const r = cli(['eval', '--dataset', dataset, '--index', INDEX, '--recreate', '--modes', 'concepts', '--no-progress', '--json', '--reference', far, '--tolerance', '0.01'], {}, 300_000);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(3);
    const result = JSON.parse(r.stdout);
    expect(result.consistency).toMatchObject({ comparable: true, withinTolerance: false });
    expect(r.stderr).toMatch(/^error: exitset with .*: concepts nDCG@10 through OpenSearch .* is outside the tolerance of 0\.01/m);

    const ok = cli(['eval', '--dataset', dataset, '--index', INDEX, '--reuse', '--modes', 'concepts', '--no-progress', '--json', '--reference', far, '--tolerance', '1'], {}, 300_000);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).consistency).toMatchObject({ comparable: true, withinTolerance: true });
  }, 600_000);

  it('eval --check against an expected.json: 0 when every figure is within its tolerance, 3 when one is not or the run is not comparable', () => {
    const args = (file: string, ...more: string[]) => ['eval', '--dataset', dataset, '--index', INDEX, '--reuse', '--modes', 'concepts', '--no-progress', '--json', '--reference', file, '--check', ...more];
    const exact = path.join(work, 'expected-exact.json');
    writeFileSync(exact, JSON.stringify({ format: 'saesplade-expected/1', system: 'shipped graph', collections: { exitset: { ndcg10: 0.5, mrr10: 0.5, recall100: 0.5 } }, tolerance: { mrr10: 1, recall100: 1 } }));
    const probe = cli(args(exact, '--tolerance', '1'), {}, 300_000);
    expect(probe.status, probe.stderr).toBe(0);
    const measured = JSON.parse(probe.stdout).consistency.checks as { metric: string; measured: number }[];
    const m = Object.fromEntries(measured.map((k) => [k.metric, k.measured]));

    const expected = (mrr: number) => ({ format: 'saesplade-expected/1', system: 'SAE-SPLADE shipped graph (ONNX)', collections: { exitset: { ndcg10: m.ndcg10, mrr10: mrr, recall100: 0.5 } }, tolerance: { mrr10: 0.02, recall100: 1 } });
    writeFileSync(exact, JSON.stringify(expected(m.mrr10!)));
    const good = cli(args(exact), {}, 300_000);
    expect(good.status, good.stderr).toBe(0);
    expect(JSON.parse(good.stdout).consistency.checks).toHaveLength(3);

    const off = path.join(work, 'expected-off.json');
    writeFileSync(off, JSON.stringify(expected(Math.max(0, m.mrr10! - 0.3))));
    const bad = cli(args(off), {}, 300_000);
    expect(bad.status, bad.stderr).toBe(3);
    expect(bad.stderr).toMatch(/concepts MRR@10 .* is outside the tolerance of 0\.02/);
    expect(bad.stderr).not.toMatch(/nDCG@10/);

    const partial = cli(args(exact, '--limit-queries', '1'), {}, 300_000);
    expect(partial.status, partial.stderr).toBe(3);
    expect(partial.stderr).toMatch(/cannot be checked: only 1 of 2 judged queries were run/);
  }, 600_000);

  it('worker: a second signal while it closes stops it at once with 130, from the CLI edge', async () => {
    const child = spawn(process.execPath, [BUILT_CLI, 'worker', '--json', '--queue', `test-exit-${stamp}`], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const t0 = Date.now();
    while (!out.includes('"event":"ready"') && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('"event":"ready"');
    // two different signals: the same one sent twice may be delivered once
    child.kill('SIGTERM');
    child.kill('SIGINT');
    expect(await exited, err).toBe(130);
    expect(err).toMatch(/second signal: exiting now/);
    expect(err).not.toMatch(/^error:/m);
  }, 90_000);
});
