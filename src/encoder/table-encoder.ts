/**
 * Query encoding without the transformer (`inferenceFree`): tokenize as the graph would (same
 * truncation), max-pool the package's query-table rows of the content tokens, prune as the package
 * says for queries. Cheap enough to run on the caller's thread, so the worker pool and the server's
 * encoder gate do not queue it behind document batches.
 */
import type { SparseVector } from '../sparse.js';
import { ModelPackageError } from './errors.js';
import { displayPath, type ModelPackage } from './package.js';
import { emptyVector, mergePruning, prune, validatePruning, type Pruning } from './prune.js';
import { QueryTable } from './query-table.js';
import { TextTokenizer } from './tokenize.js';
import type { EncodeCallOptions, EncodeStats } from './types.js';

export class TableQueryEncoder {
  private table: QueryTable | undefined;

  constructor(
    private readonly pkg: ModelPackage,
    private readonly tok: TextTokenizer,
    private readonly pruning: Pruning,
  ) {}

  static for(pkg: ModelPackage, pruning: Pruning): TableQueryEncoder {
    return new TableQueryEncoder(pkg, new TextTokenizer(pkg.tokenizerJson), pruning);
  }

  /** Loaded on first use: most processes never need it. */
  private tableOrThrow(): QueryTable {
    if (this.table) return this.table;
    const file = this.pkg.queryTableFile;
    if (!file || !this.pkg.manifest.query_table) {
      throw new ModelPackageError(
        `the model package ${displayPath(this.pkg.dir)} has no query table (manifest "query_table"), so it cannot encode queries inference-free; ` +
          `build one with: model/.venv/bin/python -m saesplade_model.query_table ${displayPath(this.pkg.dir)}`,
      );
    }
    this.table = QueryTable.load(file, this.pkg.identity.dictionarySize, this.pkg.manifest.query_table.k);
    return this.table;
  }

  encode(texts: string[], call: EncodeCallOptions = {}, stats?: Required<EncodeStats>): SparseVector[] {
    const table = this.tableOrThrow();
    const pruning = call.pruning ? validatePruning(mergePruning(this.pruning, call.pruning)) : this.pruning;
    const max = this.pkg.manifest.max_length.query;
    return texts.map((t, i) => {
      if (typeof t !== 'string') throw new TypeError(`texts[${i}] is not a string`);
      const e = this.tok.encode(t, max);
      if (stats) {
        stats.texts++;
        if (e.truncated) stats.truncated++;
        stats.tokens += e.ids.length;
      }
      // The content tokens: the graph pools no special token either.
      const content = e.ids.slice(this.tok.prefix.length, e.ids.length - this.tok.suffix.length);
      if (content.length === 0) {
        if (stats) stats.empty++;
        return emptyVector();
      }
      const v = table.vector(content);
      return call.raw ? prune(v.indices, v.values, {}) : prune(v.indices, v.values, pruning);
    });
  }
}
