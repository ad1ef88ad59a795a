/**
 * The inference-free query table of a model package (written by model/saesplade_model/query_table.py):
 * for every vocabulary token, the top-k weights the package's query graph gives that token alone. A
 * query's vector is the max over its tokens' rows, the graph's own pooling, with no transformer run.
 *
 * File (little-endian): "SQT1", uint32 vocabSize, uint32 k, uint32 indices[vocabSize * k],
 * float32 values[vocabSize * k]; unused slots have value 0.
 */
import { readFileSync } from 'node:fs';
import type { SparseVector } from '../sparse.js';
import { ModelPackageError } from './errors.js';
import { displayPath } from './package.js';

const MAGIC = 'SQT1';

export class QueryTable {
  private constructor(
    readonly vocabSize: number,
    readonly k: number,
    private readonly indices: Uint32Array,
    private readonly values: Float32Array,
  ) {}

  /** Reads and checks a table: its header, its size, every id below `dictionarySize`, every weight finite and >= 0. */
  static load(file: string, dictionarySize: number, expectK?: number): QueryTable {
    const where = displayPath(file);
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (err) {
      throw new ModelPackageError(`${where}: cannot read the query table: ${(err as Error).message}`, file);
    }
    if (buf.length < 12 || buf.toString('latin1', 0, 4) !== MAGIC) throw new ModelPackageError(`${where}: not a query table (no "${MAGIC}" header)`, file);
    const vocabSize = buf.readUInt32LE(4);
    const k = buf.readUInt32LE(8);
    if (expectK !== undefined && k !== expectK) throw new ModelPackageError(`${where}: k = ${k}, but the manifest's query_table.k = ${expectK}`, file);
    const n = vocabSize * k;
    if (buf.length !== 12 + 8 * n) throw new ModelPackageError(`${where}: ${buf.length} bytes, expected ${12 + 8 * n} for ${vocabSize} tokens x ${k}`, file);
    // Copies into aligned arrays (the Buffer's offset is not 4-byte aligned in general).
    const indices = new Uint32Array(n);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      indices[i] = buf.readUInt32LE(12 + 4 * i);
      values[i] = buf.readFloatLE(12 + 4 * n + 4 * i);
    }
    for (let i = 0; i < n; i++) {
      if (!(values[i]! >= 0) || !Number.isFinite(values[i]!)) throw new ModelPackageError(`${where}: weight ${i} is ${values[i]}`, file);
      if (values[i]! > 0 && indices[i]! >= dictionarySize) throw new ModelPackageError(`${where}: id ${indices[i]} at ${i} is outside the dictionary (${dictionarySize})`, file);
    }
    return new QueryTable(vocabSize, k, indices, values);
  }

  /** The max over the rows of `tokenIds` (ids outside the table count as empty rows), sorted by id. */
  vector(tokenIds: readonly number[]): SparseVector {
    const best = new Map<number, number>();
    for (const t of tokenIds) {
      if (!(t >= 0 && t < this.vocabSize)) continue;
      for (let j = t * this.k, end = j + this.k; j < end; j++) {
        const w = this.values[j]!;
        if (w <= 0) continue;
        const id = this.indices[j]!;
        const old = best.get(id);
        if (old === undefined || w > old) best.set(id, w);
      }
    }
    const ids = [...best.keys()].sort((a, b) => a - b);
    return { indices: Uint32Array.from(ids), values: Float32Array.from(ids.map((i) => best.get(i)!)) };
  }
}
