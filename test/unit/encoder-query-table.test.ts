/**
 * The inference-free query path (src/encoder/query-table.ts, table-encoder.ts) on the tiny fixture
 * package with a query table written here: a query's vector is the max over its content tokens'
 * rows, pruned as the package says for queries, with no graph run; a package without a table, a
 * broken table and document mode are refused with what to do.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalEncoder } from '../../src/encoder/local.js';
import { WorkerPoolEncoder } from '../../src/encoder/pool.js';
import { QueryTable } from '../../src/encoder/query-table.js';
import { ModelPackageError } from '../../src/encoder/errors.js';
import { cleanupFixtures, tinyVariant } from '../helpers/encoder-fixture.js';

const V = 30522;
const K = 3;
const HELLO = 7592;
const WORLD = 2088;

/** rows: token id -> [concept id, weight][] (at most K). */
function tableBytes(rows: Record<number, [number, number][]>, opts: { vocab?: number; k?: number; magic?: string } = {}): Buffer {
  const vocab = opts.vocab ?? V;
  const k = opts.k ?? K;
  const buf = Buffer.alloc(12 + 8 * vocab * k);
  buf.write(opts.magic ?? 'SQT1', 0, 'latin1');
  buf.writeUInt32LE(vocab, 4);
  buf.writeUInt32LE(k, 8);
  for (const [t, row] of Object.entries(rows)) {
    row.forEach(([id, w], j) => {
      const at = Number(t) * k + j;
      buf.writeUInt32LE(id, 12 + 4 * at);
      buf.writeFloatLE(w, 12 + 4 * vocab * k + 4 * at);
    });
  }
  return buf;
}

function packageWithTable(bytes: Buffer, k = K): string {
  const dir = tinyVariant((m) => (m.query_table = { file: 'query_table.bin', k }));
  writeFileSync(path.join(dir, 'query_table.bin'), bytes);
  return dir;
}

afterAll(() => cleanupFixtures());

describe('inference-free queries', () => {
  const rows: Record<number, [number, number][]> = {
    [HELLO]: [
      [5, 0.9],
      [7, 0.5],
      [40, 0.1],
    ],
    [WORLD]: [
      [7, 0.8],
      [12, 0.3],
    ],
  };

  it('max-pools the rows of the query\'s tokens, sorted by id, with the package\'s query pruning, and runs no graph', async () => {
    const enc = await LocalEncoder.create({ modelDir: packageWithTable(tableBytes(rows)), threads: 1 });
    try {
      const before = enc.stats().batches;
      const [v] = await enc.encode(['hello world'], 'query', { inferenceFree: true });
      expect([...v!.indices]).toEqual([5, 7, 12, 40]);
      expect([...v!.values].map((x) => Math.round(x * 1e6) / 1e6)).toEqual([0.9, 0.8, 0.3, 0.1]);
      expect(enc.stats().batches).toBe(before);
      const [top2] = await enc.encode(['hello world'], 'query', { inferenceFree: true, pruning: { topK: 2 } });
      expect([...top2!.indices]).toEqual([5, 7]);
      const [none] = await enc.encode(['?!'], 'query', { inferenceFree: true });
      expect(none!.indices.length).toBe(0);
      await expect(enc.encode(['hello'], 'document', { inferenceFree: true })).rejects.toThrow(/query mode only/);
    } finally {
      await enc.close();
    }
  });

  it('the worker pool answers it on the calling thread, with the same vectors', async () => {
    const dir = packageWithTable(tableBytes(rows));
    const pool = await WorkerPoolEncoder.create({ modelDir: dir, workers: 1, threads: 1 });
    try {
      const [v] = await pool.encode(['hello world'], 'query', { inferenceFree: true });
      expect([...v!.indices]).toEqual([5, 7, 12, 40]);
    } finally {
      await pool.close();
    }
  });

  it('a package without a table says how to build one; a broken table names the file and the problem', async () => {
    const plain = await LocalEncoder.create({ modelDir: tinyVariant(), threads: 1 });
    try {
      await expect(plain.encode(['hello'], 'query', { inferenceFree: true })).rejects.toThrow(/has no query table.*python -m saesplade_model.query_table/);
    } finally {
      await plain.close();
    }
    const bad = (b: Buffer, k = K) => {
      const dir = packageWithTable(b, k);
      return () => QueryTable.load(path.join(dir, 'query_table.bin'), 64, k);
    };
    expect(bad(tableBytes(rows, { magic: 'NOPE' }))).toThrow(ModelPackageError);
    expect(bad(tableBytes(rows), 4)).toThrow(/k = 3, but the manifest's query_table.k = 4/);
    expect(bad(tableBytes(rows).subarray(0, 100))).toThrow(/bytes, expected/);
    expect(bad(tableBytes({ [HELLO]: [[64, 1]] }))).toThrow(/id 64 .* outside the dictionary \(64\)/);
  });
});
