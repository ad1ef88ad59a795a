/**
 * `saesplade adapt --require-better` writes nothing when the adapted model does not beat its base on the
 * held-back pseudo-queries (exit 3). With --steps 0 no checkpoint can beat the base (step 0 is the base),
 * so the refusal is certain; the real trainer and the real default model run (encoding, teacher, held-back
 * evaluation), on the sample corpus.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { BUILT_CLI } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'saesplade-adapt-rb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('--require-better: exit 3, says NOT better with both figures, writes no package', async () => {
  const out = path.join(dir, 'never');
  const r: { status: number | null; stdout: string; stderr: string } = await new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BUILT_CLI, 'adapt', '--corpus', path.join(PACKAGE_ROOT, 'samples', 'scifact-mini'), '--out', out, '--steps', '0', '--held-back', '40', '--require-better', '--json'],
      { cwd: PACKAGE_ROOT, env: { ...process.env, LOG_LEVEL: 'warn' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  expect(r.status, r.stderr.slice(-2000)).toBe(3);
  expect(r.stderr).toMatch(/is NOT better than its base on 40 held-back pseudo-queries: teacher agreement nDCG@10 [\d.]+ vs [\d.]+/);
  expect(r.stderr).toMatch(/--require-better: no package written/);
  expect(existsSync(path.join(out, 'manifest.json'))).toBe(false);
  expect(existsSync(`${out}.partial`)).toBe(false);
}, 10 * 60_000);
