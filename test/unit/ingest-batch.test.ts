/** The fate of a batch's documents, with a scripted OpenSearch client, encoder and job-set store. */
import { describe, expect, it } from 'vitest';
import { PermanentIngestError, runIngestBatch, TransientIngestError, type BatchAttempt, type BatchContext } from '../../src/ingest/index.js';
import type { IngestBatchJob } from '../../src/queue/index.js';

const MODEL = { name: 'm', version: '1', dictionarySize: 10 };
const job = (n: number): IngestBatchJob => ({
  setId: 's',
  index: 'idx',
  batch: 0,
  model: { name: 'm', version: '1' },
  docs: Array.from({ length: n }, (_, i) => ({ id: `d${i}`, text: `text ${i}`, source: `f:${i + 1}` })),
});

/** drop: id → status the bulk helper reports for it (after its own 429 retries). */
function context(drop: Record<string, number> = {}, stored: Record<string, string> = {}) {
  const commits: any[] = [];
  const encoded: string[][] = [];
  const ctx: BatchContext = {
    encoder: {
      model: MODEL,
      encode: async (texts) => (encoded.push(texts), texts.map(() => ({ indices: Uint32Array.of(3), values: Float32Array.of(0.5) }))),
      stats: () => ({ texts: 0, tokens: 0, truncated: 0, passages: 0 }),
      label: () => undefined,
      close: async () => {},
    },
    client: {
      mget: async ({ body }: any) => ({ body: { docs: body.ids.map((id: string) => (stored[id] ? { _id: id, found: true, _source: { content_hash: stored[id] } } : { _id: id, found: false })) } }),
      helpers: {
        bulk: async (o: any) => {
          for (const d of o.datasource) {
            const [action] = o.onDocument(d);
            const status = drop[action.index._id];
            if (status) o.onDrop({ status, error: status === 429 ? null : { type: 'mapper_parsing_exception', reason: 'bad' }, operation: action, document: {} });
          }
        },
      },
    } as any,
    store: { commitBatch: async (_s: string, jobId: string, o: any) => (commits.push({ jobId, ...o }), true) } as any,
    ensureIndex: async () => {},
  };
  return { ctx, commits, encoded };
}

const attempt = (final = false, before: string[] = []): BatchAttempt & { saved?: string[] } => {
  const a: BatchAttempt & { saved?: string[] } = { jobId: 'j', final, indexedBefore: new Set(before), saveIndexed: async (ids) => void (a.saved = ids) };
  return a;
};

describe('runIngestBatch', () => {
  it('indexes all, records a 400 item as a failed document, and counts the batch once', async () => {
    const { ctx, commits } = context({ d1: 400 });
    const r = await runIngestBatch(ctx, job(3), attempt());
    expect(r).toMatchObject({ indexed: 2, skipped: 0, failed: 1 });
    expect(commits).toHaveLength(1);
    expect(commits[0].failed).toEqual([expect.objectContaining({ id: 'd1', source: 'f:2', code: 'index_rejected', reason: expect.stringContaining('400 mapper_parsing_exception: bad') })]);
  });

  it('throws a transient error for 429/503 items (no commit) and remembers what landed', async () => {
    const { ctx, commits } = context({ d0: 429, d2: 503 });
    const a = attempt();
    await expect(runIngestBatch(ctx, job(3), a)).rejects.toBeInstanceOf(TransientIngestError);
    expect(commits).toHaveLength(0);
    expect(a.saved).toEqual(['d1']);
  });

  it('on the retry, counts what an earlier run indexed as indexed (not skipped-unchanged)', async () => {
    // d1 landed in the first run: its stored hash now matches.
    const first = context({ d0: 429 });
    await expect(runIngestBatch(first.ctx, job(2), attempt())).rejects.toBeInstanceOf(TransientIngestError);
    const { contentHash } = await import('../../src/ingest/index.js');
    const { ctx, commits, encoded } = context({}, { d1: contentHash(MODEL, { text: 'text 1' }) });
    const r = await runIngestBatch(ctx, job(2), attempt(false, ['d1']));
    expect(r).toMatchObject({ indexed: 2, skipped: 0, failed: 0 });
    expect(encoded).toEqual([['text 0']]); // only the document that did not land is encoded again
    expect(commits[0]).toMatchObject({ indexed: 2, skipped: 0 });
  });

  it('records 429 items as failed on the final attempt', async () => {
    const { ctx, commits } = context({ d0: 429 });
    await expect(runIngestBatch(ctx, job(2), attempt(true))).rejects.toBeInstanceOf(TransientIngestError);
    expect(commits[0]).toMatchObject({ indexed: 1, failed: [expect.objectContaining({ id: 'd0', code: 'index_unavailable' })] });
  });

  it('refuses a job queued for another model: every document failed, no retry', async () => {
    const { ctx, commits } = context();
    const j = { ...job(2), model: { name: 'm', version: '2' } };
    await expect(runIngestBatch(ctx, j, attempt())).rejects.toBeInstanceOf(PermanentIngestError);
    expect(commits[0].failed.map((f: any) => [f.id, f.code])).toEqual([['d0', 'model_mismatch'], ['d1', 'model_mismatch']]);
  });

  it('refuses a job whose model has another dictionary size (same name and version); a job of the old shape (no size) still runs', async () => {
    const other = context();
    const j = { ...job(1), model: { name: 'm', version: '1', dictionarySize: 99 } };
    await expect(runIngestBatch(other.ctx, j, attempt())).rejects.toBeInstanceOf(PermanentIngestError);
    expect(other.commits[0].failed[0]).toMatchObject({ code: 'model_mismatch', reason: expect.stringContaining('(dictionary of 99)') });
    const same = context();
    const full = await runIngestBatch(same.ctx, { ...job(1), model: MODEL }, attempt());
    const old = await runIngestBatch(context().ctx, job(1), attempt()); // { name, version } only, as queued by 0.1
    expect([full.indexed, old.indexed]).toEqual([1, 1]);
  });

  it('skips documents whose stored hash is unchanged without encoding them', async () => {
    const { contentHash } = await import('../../src/ingest/index.js');
    const { ctx, encoded } = context({}, { d0: contentHash(MODEL, { text: 'text 0' }), d1: 'stale' });
    const r = await runIngestBatch(ctx, job(2), attempt());
    expect(r).toMatchObject({ indexed: 1, skipped: 1 });
    expect(encoded).toEqual([['text 1']]);
  });
});
