/**
 * The model guard reads every index behind an alias (issue 17): an alias over two indexes built
 * with different models is refused by ingest's check (ensureConceptIndex, what workers run) and
 * by search(), whichever index OpenSearch lists first. search()'s cached check expires like a
 * worker's (30 s by default), so a long-lived search process notices an alias switched to
 * another model's index. Real OpenSearch, the tiny fixture model.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEncoder } from '../../src/encoder/index.js';
import type { Encoder, ModelIdentity } from '../../src/encoder/types.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { ensureConceptIndex, IndexModelMismatchError, readIndexModel } from '../../src/opensearch/indexes.js';
import { search } from '../../src/search/search.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';
import { uniqueConfig } from './ingest-helpers.js';

const config = uniqueConfig('alias-models');
const client = createOpenSearchClient(config);
const alias = config.index;
const idxA = `${alias}-a`;
const idxB = `${alias}-b`;
let encoder: Encoder;
let A: ModelIdentity;
let B: ModelIdentity;

beforeAll(async () => {
  encoder = await createEncoder({ modelDir: TINY_MODEL, workers: 0 });
  A = encoder.model;
  B = { ...A, version: `${A.version}-other` };
  await ensureConceptIndex(client, idxA, A);
  await ensureConceptIndex(client, idxB, B);
});

afterAll(async () => {
  await encoder?.close();
  await client.indices.delete({ index: `${idxA},${idxB}`, ignore_unavailable: true } as any).catch(() => {});
  await client.close();
});

async function pointAlias(...indexes: string[]): Promise<void> {
  const actions: unknown[] = [{ remove: { index: `${alias}-*`, alias, must_exist: false } }];
  for (const index of indexes) actions.push({ add: { index, alias } });
  await client.indices.updateAliases({ body: { actions } } as any);
}

it('an alias over two indexes of different models is refused by the ingest check and by search, for either model', async () => {
  await pointAlias(idxA, idxB);
  for (const model of [A, B]) {
    await expect(ensureConceptIndex(client, alias, model)).rejects.toBeInstanceOf(IndexModelMismatchError);
    await expect(ensureConceptIndex(client, alias, model)).rejects.toThrow(/different models/);
  }
  await expect(readIndexModel(client, alias)).rejects.toThrow(/different models/);
  await expect(search({ client, encoder, modelCheckTtlMs: 0 }, { index: alias, query: 'heart' })).rejects.toThrow(/different models/);
  // One index behind it: accepted for its model only.
  await pointAlias(idxA);
  await expect(ensureConceptIndex(client, alias, A)).resolves.toEqual({ created: false });
  await expect(ensureConceptIndex(client, alias, B)).rejects.toBeInstanceOf(IndexModelMismatchError);
});

it("search()'s model check expires: an alias moved to another model's index is refused after the TTL", async () => {
  await pointAlias(idxA);
  const deps = { client, encoder, modelCheckTtlMs: 500 };
  await expect(search(deps, { index: alias, query: 'heart' })).resolves.toBeDefined();
  await pointAlias(idxB);
  await new Promise((r) => setTimeout(r, 700));
  await expect(search(deps, { index: alias, query: 'heart' })).rejects.toBeInstanceOf(IndexModelMismatchError);
});
