/**
 * The upgrade path (issue 15): `ingest` makes a new name the alias `<name>` over
 * `<name>-<model>-<version>`; a name built with an older model (a concrete index, as ingest created
 * before, or an alias over one) is refused with the exact `reindex` command that upgrades it, and
 * that command (or `ingest --upgrade`, which the quickstart runs) re-encodes it, verifies it, and
 * leaves `<name>` an alias over the new model's index, the old index kept for rollback. "Older
 * model" indices are simulated: concept indices whose `_meta` names another version of the model,
 * holding vectors that are not the current model's. Real OpenSearch, Redis and default model.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import {
  contentHash,
  indexedDocument,
  IndexUpgradeRequiredError,
  ingest,
  modelIdentity,
  parseDocumentLine,
  resolveParseOptions,
  startIngestWorker,
  type IngestWorkerHandle,
} from '../../src/ingest/index.js';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { conceptIndexBody, readIndexModel } from '../../src/opensearch/indexes.js';
import { JobSetStore } from '../../src/queue/index.js';
import { aliasIndices, reindex, rollback, targetIndexName, upgradeIngestTarget } from '../../src/reindex/index.js';
import { createRedis } from '../../src/redis.js';
import { cleanup, sampleLines, tempFile, uniqueConfig } from './ingest-helpers.js';
import { cleanupReindex } from './reindex-helpers.js';

const config = uniqueConfig('upgrade');
const model = modelIdentity(config.modelDir);
/** The model an older quickstart would have filled the index with: same name, another version. */
const OLD = { name: model.name, version: '0.9.0-old', dictionarySize: model.dictionarySize };
const lines = sampleLines(8, 380); // documents 380..387 of samples/scifact-mini
const fresh = `${config.index}-fresh`;
const conc = `${config.index}-conc`;
const ali = `${config.index}-ali`;
const aliOld = `${ali}-old`;
const created = [
  targetIndexName(fresh, model),
  conc,
  targetIndexName(conc, model),
  targetIndexName(conc, OLD),
  aliOld,
  targetIndexName(ali, model),
];
let client: Client;
let worker: IngestWorkerHandle;
const setIds: string[] = [];
const files: (() => void)[] = [];

beforeAll(async () => {
  client = createOpenSearchClient(config);
  worker = await startIngestWorker({ config, client, concurrency: 2 });
});

afterAll(async () => {
  await worker?.close();
  await cleanup(config, client, setIds);
  await cleanupReindex(config, client, { indices: created, aliases: [fresh, conc, ali], targets: [targetIndexName(conc, model), targetIndexName(ali, model)], queues: [`${config.queue}-cli`] });
  const redis = createRedis(config);
  await Promise.allSettled(setIds.map((id) => new JobSetStore(redis).delete(id)));
  await redis.quit();
  await client?.close();
  files.forEach((rm) => rm());
});

function file(fileLines: string[]): string {
  const f = tempFile('docs.jsonl', fileLines);
  files.push(f.remove);
  return f.file;
}

async function run(index: string, fileLines: string[]) {
  const res = await ingest({ config: { ...config, index }, source: file(fileLines), parse: { format: 'beir' }, wait: true, progress: false, batchSize: 4 });
  setIds.push(res.setId);
  return res.final!;
}

/**
 * A concept index as an older ingest left it: _meta names OLD, and each document is what the batch
 * processor stores (indexedDocument: title, text, metadata, content hash and model_version of OLD),
 * with vectors that are not the current model's.
 */
async function createOldIndex(index: string, n: number): Promise<void> {
  await client.indices.create({ index, body: conceptIndexBody(OLD) });
  const body: unknown[] = [];
  lines.slice(0, n).forEach((line, i) => {
    const p = parseDocumentLine(line, `old:${i + 1}`, resolveParseOptions({ format: 'beir' }));
    if (!p.ok) throw new Error(p.reason);
    body.push({ index: { _index: index, _id: p.doc.id } }, indexedDocument(p.doc, { '7': 1.5, '4711': 0.25 }, contentHash(OLD, p.doc), OLD.version));
  });
  await client.bulk({ body: body as any, refresh: true });
}

async function count(index: string): Promise<number> {
  return ((await client.count({ index })).body as any).count;
}

async function refusal(index: string): Promise<IndexUpgradeRequiredError> {
  const err = await run(index, lines).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IndexUpgradeRequiredError);
  return err as IndexUpgradeRequiredError;
}

describe('ingest and the model upgrade path', () => {
  it('a new name becomes the alias <name> over <name>-<model>-<version>', async () => {
    expect(await run(fresh, lines.slice(0, 4))).toMatchObject({ indexed: 4, failed: 0, done: true });
    const concrete = targetIndexName(fresh, model);
    expect(concrete).toBe(`${fresh}-${model.name}-${model.version}`.toLowerCase());
    expect(await aliasIndices(client, fresh)).toEqual([concrete]);
    expect(await readIndexModel(client, concrete)).toMatchObject({ model_name: model.name, model_version: model.version });
    expect(await count(fresh)).toBe(4);
    // Again through the alias: the stored hashes are read back, nothing is re-encoded.
    expect(await run(fresh, lines.slice(0, 4))).toMatchObject({ indexed: 0, skipped: 4, failed: 0 });
  });

  it('a concrete index of an older model: refused with the reindex command; that command makes it an alias, the old index kept', async () => {
    await createOldIndex(conc, 6);
    const err = await refusal(conc);
    expect(err.command).toBe(`saesplade reindex --source ${conc} --alias ${conc} --with-worker`);
    expect(err.message).toContain(`holds vectors of model ${OLD.name}@${OLD.version}`);
    expect(err.message).toContain(`configured model is ${model.name}@${model.version}`);
    expect(err.message).toContain(`\n  ${err.command}\n`);
    expect(await count(conc)).toBe(6); // nothing was written

    // What the command runs.
    const res = await reindex({ config, source: conc, alias: conc, withWorker: { concurrency: 2 }, progress: false });
    const kept = targetIndexName(conc, OLD);
    expect(res).toMatchObject({ status: 'switched', replaced: conc, target: targetIndexName(conc, model), previous: [kept], deleted: [] });
    expect(res.final).toMatchObject({ done: true, indexed: 6, failed: 0 });
    expect(res.verification).toMatchObject({ ok: true, sourceCount: 6, targetCount: 6 });
    expect(await aliasIndices(client, conc)).toEqual([targetIndexName(conc, model)]);
    // The old content lives on, writable, under the name ingest would have given it.
    expect(await readIndexModel(client, kept)).toMatchObject({ model_name: OLD.name, model_version: OLD.version });
    expect(await count(kept)).toBe(6);
    const settings = ((await client.indices.getSettings({ index: kept })).body as any)[kept].settings.index;
    expect(settings.blocks?.write).not.toBe('true');

    // Ingest now goes through: the 6 re-encoded documents are unchanged for this model, 2 are new.
    expect(await run(conc, lines)).toMatchObject({ indexed: 2, skipped: 6, failed: 0 });
    expect(await count(conc)).toBe(8);

    // Rollback moves the alias back to the kept index; ingest then refuses the alias again, and the
    // command it names rebuilds the rolled-back (stale) index: --restart.
    expect(await rollback({ config, alias: conc })).toMatchObject({ from: targetIndexName(conc, model), to: [kept] });
    const again = await refusal(conc);
    expect(again.command).toBe(`saesplade reindex --source ${conc} --with-worker --restart`);
    expect(again.message).toContain(`alias "${conc}" (over ${kept})`);
    const up = await upgradeIngestTarget({ config: { ...config, index: conc }, progress: false });
    expect(up).toMatchObject({ upgraded: true, command: again.command, reindex: { status: 'switched', previous: [kept], final: { indexed: 6, failed: 0 } } });
    expect(await aliasIndices(client, conc)).toEqual([targetIndexName(conc, model)]);
    expect(await count(conc)).toBe(6); // rebuilt from the kept index: the 2 documents added after the first upgrade are not in it
  });

  it('an alias over an older model\'s index: `ingest --upgrade --with-worker` (the quickstart\'s command) upgrades it, says so, then ingests', async () => {
    await createOldIndex(aliOld, 6);
    await client.indices.putAlias({ index: aliOld, name: ali });
    const src = file(lines);
    const cli = () =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(PACKAGE_ROOT, 'src/cli.ts'), 'ingest', src, '--format', 'beir', '--wait', '--with-worker', '--upgrade', '--json', '--index', ali, '--queue', `${config.queue}-cli`],
        { cwd: PACKAGE_ROOT, encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'warn' }, timeout: 240_000 },
      );
    const first = cli();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain(`alias ${ali} (over ${aliOld}) holds model ${OLD.name}@${OLD.version}`);
    expect(first.stderr).toContain(`saesplade reindex --source ${ali} --with-worker`);
    expect(first.stderr).toMatch(new RegExp(`alias ${ali}: ${aliOld} → ${targetIndexName(ali, model)}`));
    const summary = JSON.parse(first.stdout);
    setIds.push(summary.setId);
    expect(summary).toMatchObject({ read: 8, indexed: 2, skipped: 6, failed: 0 });
    expect(await aliasIndices(client, ali)).toEqual([targetIndexName(ali, model)]);
    expect(await count(aliOld)).toBe(6); // kept for rollback

    // Run again, as a second quickstart would: nothing to upgrade, nothing to encode.
    const second = cli();
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('Upgrading');
    const s2 = JSON.parse(second.stdout);
    setIds.push(s2.setId);
    expect(s2).toMatchObject({ read: 8, indexed: 0, skipped: 8, failed: 0 });
  });
});
