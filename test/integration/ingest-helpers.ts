/**
 * Shared set-up of the ingest integration tests: real Redis, real OpenSearch (scripts/services.sh
 * start) and the real default model (models/default, or SAESPLADE_MODEL). Each test file gets its
 * own index, queue and job-set key prefix from `uniqueConfig`, and removes them in `cleanup`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { loadConfig, PACKAGE_ROOT, type Config } from '../../src/config.js';
import type { Client } from '../../src/opensearch/client.js';
import { createIngestQueue, JobSetStore } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import type { SparseVector } from '../../src/sparse.js';

/** The development collections live beside the checkout (../shared), as on CI machines. */
export const SCIFACT = path.resolve(PACKAGE_ROOT, '..', 'shared', 'datasets', 'scifact', 'corpus.jsonl');

export function uniqueConfig(name: string): Config {
  const id = `${name}-${process.pid}-${Date.now().toString(36)}`;
  return loadConfig({ index: `test-${id}`, queue: `test-${id}`, logLevel: 'warn' });
}

/** The first `n` lines of the SciFact corpus (BEIR format). */
export function scifactLines(n: number, from = 0): string[] {
  const text = readFileSync(SCIFACT, 'utf8');
  const out: string[] = [];
  let start = 0;
  for (let i = 0; out.length < n; i++) {
    const end = text.indexOf('\n', start);
    if (i >= from) out.push(text.slice(start, end < 0 ? undefined : end));
    if (end < 0) break;
    start = end + 1;
  }
  return out;
}

export function tempFile(name: string, lines: string[]): { file: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'saesplade-ingest-test-'));
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Removes a test's index, queue and job sets. */
export async function cleanup(config: Config, client: Client, setIds: string[]): Promise<void> {
  const redis = createRedis(config);
  const queue = createIngestQueue(config.queue, redis);
  const store = new JobSetStore(redis);
  await Promise.allSettled([
    client.indices.delete({ index: config.index, ignore_unavailable: true } as any),
    queue.obliterate({ force: true }),
    ...setIds.map((id) => store.delete(id)),
  ]);
  await queue.close();
  await redis.quit();
}

/**
 * A stored `rank_features` map against the encoder's vector: the same concept ids, and each value
 * within rank_features precision (9 significant bits, ~0.4%; `_source` keeps the exact value).
 */
export function expectSameConcepts(stored: Record<string, number>, v: SparseVector): void {
  const keys = Object.keys(stored).map(Number).sort((a, b) => a - b);
  expect(keys).toEqual(Array.from(v.indices));
  v.indices.forEach((idx, i) => {
    const want = v.values[i]!;
    expect(Math.abs(stored[String(idx)]! - want)).toBeLessThanOrEqual(want * 2 ** -8 + 1e-6);
  });
}
