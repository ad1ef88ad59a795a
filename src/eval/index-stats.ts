import type { Client } from '@opensearch-project/opensearch';
import type { ModelIdentity } from '../encoder/types.js';
import { getEngine } from '../opensearch/engine.js';
import { mergeMeta, readMeta } from '../opensearch/meta.js';
import { pitPages, withPointInTime } from '../opensearch/pit.js';
import { CONCEPT_FIELD, readIndexModel, sameModel } from '../opensearch/indexes.js';
import type { BeirDataset } from './dataset.js';
import { ConceptFrequencies } from './stats.js';

/**
 * What the evaluation reads from OpenSearch about an index: the stored concept vectors (through a
 * point in time), its size on disk, and whether it can be reused for a collection.
 */

/** Walks every document's stored `concepts` map (PIT + search_after) and counts concepts. */
export async function storedConceptFrequencies(client: Client, index: string, field: string = CONCEPT_FIELD, pageSize = 500): Promise<ConceptFrequencies> {
  const engine = await getEngine(client);
  const keepAlive = '2m';
  const freq = new ConceptFrequencies();
  await withPointInTime(engine, index, keepAlive, async (pit) => {
    for await (const page of pitPages(client, engine, { pit, keepAlive, size: pageSize, source: [field] })) {
      for (const h of page.hits) freq.addFeatureMap(h._source?.[field] as Record<string, unknown> | undefined);
    }
  });
  return freq;
}

export interface IndexSize {
  /** Primary store size (bytes) as `_stats/store` reports it. */
  storeBytes: number;
  docs: number;
  deletedDocs: number;
  segments: number;
  bytesPerDoc: number;
  /** Whether the index was force-merged (to one segment) before measuring. */
  forceMerged: boolean;
}

/** Flushes (optionally force-merges to one segment) and reads `_stats` of the index's primaries. */
export async function measureIndexSize(client: Client, index: string, forceMerge: boolean): Promise<IndexSize> {
  await client.indices.refresh({ index });
  if (forceMerge) await client.indices.forcemerge({ index, max_num_segments: 1 } as any, { requestTimeout: 30 * 60_000 });
  const read = async () => {
    // The merged-away segments stay on disk until a new reader is opened and a flush commits:
    // refresh, flush, then read.
    await client.indices.refresh({ index });
    await client.indices.flush({ index });
    const res = await client.indices.stats({ index, metric: ['store', 'docs', 'segments'] } as any);
    return (res.body as any)._all.primaries;
  };
  let p = await read();
  // After a force-merge, wait (up to ~30 s) until only the merged segment (one per shard) is counted.
  const shards = forceMerge ? await primaryShards(client, index) : 0;
  for (let i = 0; forceMerge && i < 30 && Number(p.segments?.count ?? 0) > shards; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    p = await read();
  }
  const storeBytes = Number(p.store?.size_in_bytes ?? 0);
  const docs = Number(p.docs?.count ?? 0);
  return {
    storeBytes,
    docs,
    deletedDocs: Number(p.docs?.deleted ?? 0),
    segments: Number(p.segments?.count ?? 0),
    bytesPerDoc: docs > 0 ? storeBytes / docs : 0,
    forceMerged: forceMerge,
  };
}

async function primaryShards(client: Client, index: string): Promise<number> {
  const res = await client.indices.getSettings({ index });
  return Object.values(res.body as Record<string, { settings?: { index?: { number_of_shards?: string } } }>).reduce(
    (n, e) => n + Number(e.settings?.index?.number_of_shards ?? 1),
    0,
  );
}

/** What `eval` records in the index's mapping `_meta` about the collection it loaded. */
export interface EvalCorpusMeta {
  dataset: string;
  corpus_sha256: string;
  docs: number;
  /** How the ingest that built the index went (so that a run reusing it can still report it). */
  ingest?: { indexed: number; failed: number; seconds: number; docs_per_s: number; at: string };
}

export const EVAL_META_KEY = 'saesplade_eval';

/** What `eval` recorded on the index, if anything. */
export async function readEvalMeta(client: Client, index: string): Promise<Partial<EvalCorpusMeta> | undefined> {
  return (await readMeta(client, index))[EVAL_META_KEY] as Partial<EvalCorpusMeta> | undefined;
}

/** Records the collection in `_meta` (merged over what is there: `_meta` is replaced as a whole). */
export async function writeEvalMeta(client: Client, index: string, ds: BeirDataset, ingest?: EvalCorpusMeta['ingest']): Promise<void> {
  const value: EvalCorpusMeta = { dataset: ds.name, corpus_sha256: ds.corpusSha256, docs: ds.docIds.length };
  if (ingest) value.ingest = ingest;
  await mergeMeta(client, index, { [EVAL_META_KEY]: value });
}

/**
 * Whether an existing index holds exactly this collection encoded by this model: the model in
 * `_meta`, the document count, the corpus checksum `eval` recorded (when there is one) and a
 * sample of the corpus ids. Returns the reason it cannot be reused, or undefined when it can.
 */
export async function reuseProblem(client: Client, index: string, ds: BeirDataset, model: ModelIdentity): Promise<string | undefined> {
  return (await reuseCheck(client, index, ds, model)).problem;
}

export interface ReuseVerdict {
  /** Why the index cannot be used as it is (undefined: it can). */
  problem?: string;
  /**
   * The index is an incomplete load of this corpus by this model (an interrupted ingest): the
   * same model, no other corpus recorded, fewer documents than the corpus. Ingesting the corpus
   * again completes it (unchanged documents are skipped, not re-encoded).
   */
  resumable: boolean;
}

export async function reuseCheck(client: Client, index: string, ds: BeirDataset, model: ModelIdentity): Promise<ReuseVerdict> {
  const im = await readIndexModel(client, index);
  if (!sameModel(im, model)) {
    return {
      resumable: false,
      problem: im
        ? `it was built with model ${im.model_name}@${im.model_version}, not ${model.name}@${model.version}`
        : 'it has no concept-model metadata (not a saesplade index)',
    };
  }
  const meta = await readEvalMeta(client, index);
  if (meta?.corpus_sha256 && meta.corpus_sha256 !== ds.corpusSha256) {
    return { resumable: false, problem: `it was built from another corpus.jsonl (sha256 ${meta.corpus_sha256.slice(0, 12)}…, this one ${ds.corpusSha256.slice(0, 12)}…)` };
  }
  await client.indices.refresh({ index });
  const count = Number(((await client.count({ index })).body as any).count);
  if (count !== ds.docIds.length) {
    return { resumable: count < ds.docIds.length && !meta?.corpus_sha256, problem: `it holds ${count} documents, the corpus ${ds.docIds.length}` };
  }
  const step = Math.max(1, Math.floor(ds.docIds.length / 50));
  const sample = ds.docIds.filter((_, i) => i % step === 0).slice(0, 50);
  const res = await client.mget({ index, body: { ids: sample }, _source: false } as any);
  const missing = ((res.body as any).docs as { _id: string; found: boolean }[]).filter((d) => !d.found).map((d) => d._id);
  if (missing.length > 0) return { resumable: false, problem: `corpus documents are missing from it (e.g. ${missing.slice(0, 3).join(', ')})` };
  return { resumable: false };
}
