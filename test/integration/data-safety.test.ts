/**
 * Data safety against the real OpenSearch node and Redis (scripts/services.sh start), through the
 * built CLI (dist/src/cli.js: `npm run build` first; scripts/test.sh does) and the library:
 *
 * - destructive calls (`eval --recreate`, index deletion, alias removal) refuse any target that is
 *   not one exact, concrete index: `*`, `_all`, `a,b`, a prefix pattern, an alias over two indexes;
 *   every throwaway index of this file (and a sentinel with another prefix) still exists after each;
 * - bad index and queue names are refused in one line, with a non-zero exit, before anything is
 *   created, and never hang (`--queue x:y` used to print BullMQ's error and hang);
 * - bad numbers are refused with their range (`--encoder-workers abc` used to start a worker that
 *   never encoded and never exited);
 * - secrets: with a password in REDIS_URL (and on the command line) and OPENSEARCH_PASSWORD set,
 *   `status` / `failed` (job set not found) and the `eval --report` file print none of them.
 *
 * Every index made here starts with `safety-test-` (or `safety-sentinel-`) and this run's stamp, and
 * is removed at the end; nothing else is deleted.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PACKAGE_ROOT } from '../../src/config.js';
import { EvalError, runEval } from '../../src/eval/run-eval.js';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { runBuiltCli } from '../helpers/cli.js';
import { deleteIndexSafely, UnsafeTargetError, updateAliasesSafely } from '../../src/opensearch/safety.js';

const CLI = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli.js');
const stamp = `${process.pid}-${Date.now().toString(36)}`;
const P = `safety-test-${stamp}-`;
const A = `${P}a`;
const B = `${P}b`;
const C = `${P}c`;
const TWO = `${P}two`; // an alias over A and B
const SENTINEL = `safety-sentinel-${stamp}`; // stands for "every other index": only * and _all reach it
const MINE = [A, B, C, SENTINEL];
const config = loadConfig({ logLevel: 'warn' });
const REDIS_PW = `redisPw-${stamp}`;
const FLAG_PW = `flagPw-${stamp}`;
const OS_PW = `osPw-${stamp}`;

let client: Client;
let work: string;
let dataset: string;

const cli = runBuiltCli;

async function exists(index: string): Promise<boolean> {
  return (await client.indices.exists({ index })).body as boolean;
}

async function expectAllMineExist(): Promise<void> {
  for (const i of MINE) expect(await exists(i), `${i} must still exist`).toBe(true);
}

/** A 3-document BEIR collection (the first lines of the bundled sample) with one judged query. */
function writeTinyDataset(dir: string): void {
  const sample = path.join(PACKAGE_ROOT, 'samples', 'scifact-mini');
  mkdirSync(path.join(dir, 'qrels'), { recursive: true });
  const corpus = readFileSync(path.join(sample, 'corpus.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, 3);
  writeFileSync(path.join(dir, 'corpus.jsonl'), corpus.join('\n') + '\n');
  const firstId = String(JSON.parse(corpus[0]!)._id);
  writeFileSync(path.join(dir, 'queries.jsonl'), JSON.stringify({ _id: 'q1', text: 'what does this abstract study' }) + '\n');
  writeFileSync(path.join(dir, 'qrels', 'test.tsv'), `query-id\tcorpus-id\tscore\nq1\t${firstId}\t1\n`);
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  client = createOpenSearchClient(config);
  for (const i of MINE) await client.indices.create({ index: i, body: { settings: { index: { number_of_shards: 1, number_of_replicas: 0 } } } as any });
  await client.indices.updateAliases({ body: { actions: [{ add: { index: A, alias: TWO } }, { add: { index: B, alias: TWO } }] } } as any);
  work = mkdtempSync(path.join(tmpdir(), 'saesplade-safety-'));
  dataset = path.join(work, 'tiny');
  writeTinyDataset(dataset);
});

afterAll(async () => {
  // Exact names only: this file's own indexes.
  for (const i of [...MINE, TWO, `${P}eval`, `${P}q`, `${P}w`]) await client?.indices.delete({ index: i, ignore_unavailable: true } as any).catch(() => undefined);
  await client?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('destructive calls need one exact, concrete index', () => {
  const PATTERNS = ['*', '_all', `${A},${B}`, `${P}*`, 'safety-*'];

  it.each(PATTERNS)('eval --index %j --recreate is refused by the CLI and deletes nothing', async (pattern) => {
    const r = cli(['eval', '--dataset', dataset, '--index', pattern, '--recreate', '--modes', 'bm25', '--no-progress']);
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.status).not.toBeNull();
    expect(r.stderr).toMatch(/index \(--index; env SAESPLADE_INDEX\): .* is not a valid index or alias name/);
    expect(r.stderr).not.toMatch(/deleting/);
    await expectAllMineExist();
  });

  it.each(PATTERNS)('the library (runEval) refuses index %j too', async (pattern) => {
    const err = await runEval({ config, dataset, index: pattern, recreate: true, modes: ['bm25'], progress: false, say: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/not a valid index or alias name/);
    await expectAllMineExist();
  });

  it('eval --recreate of an alias over two indexes is refused by the guard (CLI and library)', async () => {
    const r = cli(['eval', '--dataset', dataset, '--index', TWO, '--recreate', '--modes', 'bm25', '--no-progress']);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/--recreate: refusing to touch ".*two": it is not a concrete index but resolves to 2 indexes/);
    const err = await runEval({ config, dataset, index: TWO, recreate: true, modes: ['bm25'], progress: false, say: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeTargetError);
    expect(err).not.toBeInstanceOf(EvalError);
    await expectAllMineExist();
    expect((await client.indices.existsAlias({ name: TWO })).body).toBe(true);
  });

  it('deleteIndexSafely refuses patterns, lists, _all and aliases; deletes one concrete index', async () => {
    for (const target of [...PATTERNS, TWO, `${A}*`, ' ', '']) {
      await expect(deleteIndexSafely(client, target, 'test'), target).rejects.toBeInstanceOf(UnsafeTargetError);
    }
    await expectAllMineExist();
    expect(await deleteIndexSafely(client, `${P}never-created`, 'test')).toBe(false);
    expect(await deleteIndexSafely(client, C, 'test')).toBe(true);
    expect(await exists(C)).toBe(false);
    for (const i of [A, B, SENTINEL]) expect(await exists(i)).toBe(true);
    await client.indices.create({ index: C, body: { settings: { index: { number_of_shards: 1, number_of_replicas: 0 } } } as any });
  });

  it('updateAliasesSafely refuses alias removal and remove_index by pattern or alias', async () => {
    for (const actions of [
      [{ remove: { index: '*', alias: TWO } }],
      [{ remove: { index: A, alias: '*' } }],
      [{ remove: { index: `${A},${B}`, alias: TWO } }],
      [{ remove: { index: TWO, alias: TWO } }],
      [{ remove_index: { index: '*' } }],
      [{ remove_index: { index: TWO } }],
      [{ remove_index: { index: `${P}*` } }, { add: { index: C, alias: `${P}x` } }],
    ]) {
      await expect(updateAliasesSafely(client, actions, 'test'), JSON.stringify(actions)).rejects.toBeInstanceOf(UnsafeTargetError);
    }
    const aliases = (await client.indices.getAlias({ name: TWO })).body as Record<string, unknown>;
    expect(Object.keys(aliases).sort()).toEqual([A, B]);
    await expectAllMineExist();
    expect((await client.indices.existsAlias({ name: `${P}x` })).body).toBe(false);
  });

  it('search -i "*" is refused before any query runs', () => {
    for (const pattern of ['*', '_all', `${A},${B}`]) {
      const r = cli(['search', 'heart', '-i', pattern, '--mode', 'bm25', '--json']);
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.status).not.toBeNull();
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/is not a valid index or alias name/);
    }
  });

  it('reindex and rollback refuse pattern names for --source and --alias', async () => {
    for (const args of [['reindex', '--source', '*', '--alias', `${P}x`], ['reindex', '--source', A, '--alias', '_all'], ['rollback', '--alias', '*']]) {
      const r = cli(args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).not.toBe(0);
      expect(r.status).not.toBeNull();
      expect(r.stderr).toMatch(/is not a valid index or alias name/);
    }
    await expectAllMineExist();
  });
});

describe('bad names and numbers: one line, non-zero exit, nothing created, no hang', () => {
  const file = () => path.join(dataset, 'corpus.jsonl');

  it.each([
    ['ingest', (q: string) => ['ingest', file(), '-i', `${P}q`, '--queue', q]],
    ['ingest --with-worker', (q: string) => ['ingest', file(), '-i', `${P}q`, '--queue', q, '--with-worker']],
    ['worker', (q: string) => ['worker', '-i', `${P}q`, '--queue', q]],
  ] as const)('%s --queue x:y exits at once', async (_name, args) => {
    const r = cli(args('x:y'), {}, 30_000);
    expect(r.signal, 'it hung and was killed').toBeNull();
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^error: invalid configuration: queue \(--queue; env SAESPLADE_QUEUE\): "x:y" is not a valid queue name \(it contains ":"\)/);
    expect(await exists(`${P}q`)).toBe(false);
  });

  it('a bad index name is refused before an index or a job set is created', async () => {
    const r = cli(['ingest', file(), '-i', `${P.toUpperCase()}Q`], {}, 30_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not lower case/);
    const r2 = cli(['ingest', file()], { SAESPLADE_INDEX: `${P}a,${P}q` }, 30_000);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/index \(SAESPLADE_INDEX\): .* \(it contains ","\)/);
    expect(await exists(`${P}q`)).toBe(false);
  });

  it.each([
    ['--encoder-workers', 'abc', /--encoder-workers must be an integer from 0 to 64, got "abc"/],
    ['--encoder-workers', '-1', /--encoder-workers must be an integer from 0 to 64/],
    ['--encoder-workers', '1.5', /--encoder-workers must be an integer from 0 to 64/],
    ['--lock-duration', '1', /--lock-duration must be an integer from 3000 to 86400000, got "1"/],
    ['--stalled-interval', 'x', /--stalled-interval must be an integer from 1000/],
    ['--concurrency', '0', /--concurrency must be an integer from 1 to 256/],
  ])('worker %s %s is refused with its range', async (flag, value, message) => {
    const r = cli(['worker', '-i', `${P}w`, '--queue', `${P}w`, flag, value], {}, 30_000);
    expect(r.signal, 'it hung and was killed').toBeNull();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(await exists(`${P}w`)).toBe(false);
  });
});

describe('secrets never printed', () => {
  const env = { REDIS_URL: `redis://:${REDIS_PW}@127.0.0.1:6379`, OPENSEARCH_PASSWORD: OS_PW };
  const secrets = [REDIS_PW, FLAG_PW, OS_PW];
  const clean = (text: string) => {
    for (const s of secrets) expect(text).not.toContain(s);
  };

  it.each(['status', 'failed'])('%s of an unknown job set names Redis without its password', (cmd) => {
    const r = cli([cmd, `no-such-set-${stamp}`], env, 30_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not found in redis:\/\/:\*\*\*@127\.0\.0\.1:6379/);
    clean(r.stdout + r.stderr);
    const f = cli([cmd, `no-such-set-${stamp}`, '--redis-url', `redis://:${FLAG_PW}@127.0.0.1:6379`], env, 30_000);
    expect(f.status).toBe(1);
    clean(f.stdout + f.stderr);
  });

  it('the eval report (and the output of eval) holds no credentials', () => {
    const report = path.join(work, 'report.md');
    const r = cli(
      ['eval', '--dataset', dataset, '--index', `${P}eval`, '--modes', 'bm25', '--warmup', '0', '--no-progress', '--report', report,
        '--redis-url', `redis://:${FLAG_PW}@127.0.0.1:6379`, '--opensearch-url', config.opensearchUrl],
      env,
      300_000,
    );
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(report, 'utf8');
    expect(text).toContain('redis://:***@127.0.0.1:6379');
    expect(text).toContain(`--index ${P}eval`);
    clean(text);
    clean(r.stdout + r.stderr);
  });
});
