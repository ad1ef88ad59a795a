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

/**
 * The documents the tests ingest: the repository's own sample (400 SciFact abstracts, BEIR format),
 * so that a clone passes `npm test` with nothing beside it. Tests take disjoint slices of it.
 */
export const SAMPLE_CORPUS = path.join(PACKAGE_ROOT, 'samples', 'scifact-mini', 'corpus.jsonl');

export function uniqueConfig(name: string): Config {
  const id = `${name}-${process.pid}-${Date.now().toString(36)}`;
  return loadConfig({ index: `test-${id}`, queue: `test-${id}`, logLevel: 'warn' });
}

/** Lines `from` … `from + n - 1` of the sample corpus (BEIR format); throws if it holds fewer. */
export function sampleLines(n: number, from = 0): string[] {
  const all = readFileSync(SAMPLE_CORPUS, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (from + n > all.length) throw new Error(`${SAMPLE_CORPUS} holds ${all.length} documents; a test asked for lines ${from}..${from + n - 1}`);
  return all.slice(from, from + n);
}

export function tempFile(name: string, lines: string[]): { file: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'saesplade-ingest-test-'));
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The indices behind an alias ([] when `name` is no alias). */
export async function indicesBehind(client: Client, name: string): Promise<string[]> {
  if (!((await client.indices.existsAlias({ name })).body as boolean)) return [];
  return Object.keys((await client.indices.getAlias({ name })).body as object);
}

/**
 * Removes a test's index (ingest makes a new name an alias over `<name>-<model>-<version>`: the
 * indices behind it go too), queue and job sets.
 */
export async function cleanup(config: Config, client: Client, setIds: string[]): Promise<void> {
  const redis = createRedis(config);
  const queue = createIngestQueue(config.queue, redis);
  const store = new JobSetStore(redis);
  const behind = await indicesBehind(client, config.index).catch(() => []);
  await Promise.allSettled([
    client.indices.delete({ index: [config.index, ...behind].join(','), ignore_unavailable: true } as any),
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
