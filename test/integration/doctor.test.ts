import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';

/** Runs the real CLI (from source, through tsx) against the configured services. */
function doctor(...args: string[]) {
  const res = spawnSync(process.execPath, ['--import', 'tsx', path.join(PACKAGE_ROOT, 'src/cli.ts'), 'doctor', '--json', ...args], {
    cwd: PACKAGE_ROOT,
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'error' },
  });
  return { status: res.status, report: JSON.parse(res.stdout) as Record<string, any>, stderr: res.stderr };
}

describe('saesplade doctor', () => {
  it('reports OpenSearch, Redis and the bundled model as working', () => {
    const manifest = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'models/default/manifest.json'), 'utf8'));
    const { status, report } = doctor();
    expect(report.opensearch).toMatchObject({ ok: true });
    expect(report.redis).toMatchObject({ ok: true });
    expect(report.model.ok).toBe(true);
    expect(report.model.detail).toContain(`${manifest.name}@${manifest.version}`);
    expect(status).toBe(0);
  });

  it('fails with exit code 1 and names the missing manifest for a wrong model directory', () => {
    const { status, report } = doctor('--model', path.join(PACKAGE_ROOT, 'mappings'));
    expect(status).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.model.ok).toBe(false);
    expect(report.model.detail).toMatch(/manifest\.json/);
    expect(report.opensearch.ok).toBe(true);
  });

  it('names the URL of an unreachable cluster', () => {
    const { status, report } = doctor('--opensearch-url', 'http://127.0.0.1:9');
    expect(status).toBe(1);
    expect(report.opensearch.ok).toBe(false);
    expect(report.opensearch.detail).toContain('127.0.0.1:9');
  });
});
