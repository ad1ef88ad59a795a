/**
 * `saesplade adapt` (issue 16), for real: the Python tools that scripts/adapt-env.sh installs (scripts/test.sh
 * runs it), the bundled default model as base, the sample corpus (400 SciFact abstracts) with a small step
 * budget. Bad input is refused before any training and writes nothing; the written package passes the
 * package checks the default passes (manifest, graph, golden vectors in the TypeScript runtime) and is not
 * mistakable for its base; then it goes into service the README's way: ingest with the default model,
 * `reindex --model <adapted>` switches the alias, search runs through the adapted model, `rollback` undoes it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR, PACKAGE_ROOT } from '../../src/config.js';
import { checkGolden, createEncoder, loadModelPackage, readGolden } from '../../src/encoder/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { BUILT_CLI, runBuiltCli } from '../helpers/cli.js';
import { uniqueConfig } from './ingest-helpers.js';

const SAMPLE = path.join(PACKAGE_ROOT, 'samples', 'scifact-mini');
const dir = mkdtempSync(path.join(tmpdir(), 'saesplade-adapt-'));
const out = path.join(dir, 'adapted');
const config = uniqueConfig('adapt');
const client = createOpenSearchClient(config);
const env = { SAESPLADE_INDEX: config.index, SAESPLADE_QUEUE: config.queue };
let result: any;

/** The built CLI without blocking the test worker's event loop (adapt runs for minutes). */
function runCliAsync(args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUILT_CLI, ...args], { cwd: PACKAGE_ROOT, env: { ...process.env, LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  // a small step budget: the point is the machinery (the measured runs are in docs/ADAPT.md)
  const r = await runCliAsync(['adapt', '--corpus', SAMPLE, '--out', out, '--steps', '12', '--held-back', '40', '--no-query-table', '--json'], 15 * 60_000);
  if (r.status !== 0) throw new Error(`adapt exited ${r.status}: ${r.stderr.slice(-3000)}`);
  result = JSON.parse(r.stdout);
}, 16 * 60_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await client.indices.delete({ index: `${config.index}-*`, ignore_unavailable: true } as any).catch(() => {});
  await client.close();
});

describe('bad input is refused before training, and nothing is written', () => {
  it('a file that is not a corpus: exit 1, the file and line named', () => {
    const bad = path.join(dir, 'notes.jsonl');
    writeFileSync(bad, '{"_id": "1", "text": "fine"}\nthis line is not JSON\n[1, 2]\n');
    const target = path.join(dir, 'never');
    const r = runBuiltCli(['adapt', '--corpus', bad, '--out', target], {}, 120_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/notes\.jsonl:2: not JSON/);
    expect(r.stderr).toMatch(/notes\.jsonl:3: a list, not a JSON object/);
    expect(r.stderr).toMatch(/nothing was trained/);
    expect(existsSync(target)).toBe(false);
  });

  it('a corpus too small to adapt on: exit 1, how many documents it has and needs', () => {
    const small = path.join(dir, 'small.jsonl');
    writeFileSync(small, readFileSync(path.join(SAMPLE, 'corpus.jsonl'), 'utf8').split('\n').slice(0, 50).join('\n') + '\n');
    const r = runBuiltCli(['adapt', '--corpus', small, '--out', path.join(dir, 'never2')], {}, 120_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/50 documents with text .*at least 200 documents/);
    expect(existsSync(path.join(dir, 'never2'))).toBe(false);
  });

  it('an output folder that holds a package is not overwritten without --force', () => {
    const before = readFileSync(path.join(out, 'manifest.json'), 'utf8');
    const r = runBuiltCli(['adapt', '--corpus', SAMPLE, '--out', out], {}, 120_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/already holds a package/);
    expect(readFileSync(path.join(out, 'manifest.json'), 'utf8')).toBe(before);
  });
});

describe('the adapted package', () => {
  it('is named, versioned and recorded apart from its base', () => {
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const base = JSON.parse(readFileSync(path.join(DEFAULT_MODEL_DIR, 'manifest.json'), 'utf8'));
    expect(m.name).toBe(`${base.name}-adapted-scifact-mini`);
    expect(m.version).toMatch(new RegExp(`^${base.version.replace(/\./g, '\\.')}-adapt\\.[0-9a-f]{8}$`));
    expect(m.adapted.base).toEqual({ name: base.name, version: base.version });
    expect(m.adapted.corpus.documents).toBe(400);
    expect(m.adapted.corpus.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.adapted.settings.steps).toBe(12);
    expect(m.adapted.seconds).toBeGreaterThan(0);
    expect(result.held_back.base.step).toBe(0);
    expect(typeof result.better).toBe('boolean');
    // the base's graph when no checkpoint beat it on the held-back queries, else a trained head
    expect(readFileSync(path.join(out, 'document.onnx')).equals(readFileSync(path.join(DEFAULT_MODEL_DIR, 'document.onnx')))).toBe(
      result.held_back.best_step === 0,
    );
    expect(result.better).toBe(result.held_back.best_step > 0);
  });

  it('passes the package checks in the TypeScript runtime: manifest, graph, golden vectors', async () => {
    const pkg = loadModelPackage(out);
    const golden = readGolden(pkg);
    expect(golden?.cases.length ?? 0).toBeGreaterThan(5);
    const enc = await createEncoder({ modelDir: out, workers: 0 });
    try {
      const failures = (await checkGolden(enc, golden!)).filter((f) => f.problems.length > 0);
      expect(failures).toEqual([]);
      expect(enc.model.name).toMatch(/-adapted-/);
    } finally {
      await enc.close();
    }
  });
});

describe('into service: ingest, reindex --model <adapted>, search, rollback', () => {
  it('switches the alias to an index encoded by the adapted model, searches through it, and rolls back', async () => {
    const docs = path.join(dir, 'docs.jsonl');
    writeFileSync(docs, readFileSync(path.join(SAMPLE, 'corpus.jsonl'), 'utf8').split('\n').slice(0, 60).join('\n') + '\n');
    let r = runBuiltCli(['ingest', docs, '--with-worker', '--json'], env, 300_000);
    expect(r.status, r.stderr).toBe(0);
    r = runBuiltCli(['reindex', '--source', config.index, '--model', out, '--with-worker', '--json'], env, 300_000);
    expect(r.status, r.stderr).toBe(0);
    const after = await client.indices.getAlias({ name: config.index } as any);
    const target = Object.keys(after.body)[0];
    expect(target).toMatch(/adapted/);
    expect((await client.count({ index: config.index } as any)).body.count).toBe(60);
    r = runBuiltCli(['search', 'hepatitis C virus infection in pregnancy', '--model', out, '--json'], env, 120_000);
    expect(r.status, r.stderr).toBe(0);
    const hits = JSON.parse(r.stdout).hits;
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.slice(0, 3).map((h: { id: string }) => h.id)).toContain('92308');
    // the base model is refused on the adapted index (the guard)
    r = runBuiltCli(['search', 'hepatitis', '--json'], env, 120_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/model/);
    r = runBuiltCli(['rollback', '--alias', config.index, '--json'], env, 120_000);
    expect(r.status, r.stderr).toBe(0);
    const back = Object.keys((await client.indices.getAlias({ name: config.index } as any)).body)[0];
    expect(back).not.toBe(target);
  }, 15 * 60_000);
});
