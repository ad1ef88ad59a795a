/**
 * Which indexes this product manages, as the OpenSearch-compatible endpoint needs to know: an index
 * (or every index behind an alias) whose mapping `_meta` records this server's model is encoded on
 * the way in and may take `concept_sparse` clauses; one without that `_meta` (or missing) is passed
 * through untouched; one built with another model is refused. Read with the caller's own
 * credentials, and trusted for a while (the worker's 30 s), as the search path does.
 */
import type { Client } from '@opensearch-project/opensearch';
import type { ModelIdentity } from '../../encoder/types.js';
import { AliasModelsMismatchError, IndexModelMismatchError, readIndexModels, sameModel, type IndexModelMeta } from '../../opensearch/indexes.js';
import { MODEL_CHECK_TTL_MS } from '../../search/search.js';
import { clusterError } from './upstream.js';

export type IndexState =
  | { kind: 'managed'; meta: IndexModelMeta; field: string }
  /** No model `_meta` on it: not ours, passed through. */
  | { kind: 'plain' }
  /** No such index (a bulk write creates a plain one, as the cluster would). */
  | { kind: 'missing' }
  /** Built with another model (or an alias over indexes of different models). */
  | { kind: 'other_model'; reason: string };

export class ManagedIndexes {
  private readonly cache = new Map<string, { state: IndexState; at: number }>();

  constructor(
    private readonly client: Client,
    private readonly model: ModelIdentity,
    private readonly ttlMs = MODEL_CHECK_TTL_MS,
  ) {}

  async state(index: string, headers: Record<string, string>): Promise<IndexState> {
    const hit = this.cache.get(index);
    if (hit && Date.now() - hit.at <= this.ttlMs) return hit.state;
    const state = await this.read(index, headers);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(index, { state, at: Date.now() });
    return state;
  }

  private async read(index: string, headers: Record<string, string>): Promise<IndexState> {
    let models: [string, IndexModelMeta | undefined][];
    try {
      models = await readIndexModels(this.client, index, { headers });
    } catch (err) {
      if ((err as { meta?: { statusCode?: number } })?.meta?.statusCode === 404) return { kind: 'missing' };
      throw clusterError(err);
    }
    if (models.length === 0 || models.every(([, m]) => m === undefined)) return { kind: 'plain' };
    const first = models[0]![1];
    const mixed = models.some(([, m]) => m?.model_name !== first?.model_name || m?.model_version !== first?.model_version || m?.dictionary_size !== first?.dictionary_size);
    if (mixed) return { kind: 'other_model', reason: new AliasModelsMismatchError(index, models, this.model).message };
    if (!sameModel(first, this.model)) return { kind: 'other_model', reason: new IndexModelMismatchError(index, first, this.model).message };
    return { kind: 'managed', meta: first!, field: first!.concept_field || 'concepts' };
  }

  forget(): void {
    this.cache.clear();
  }
}
