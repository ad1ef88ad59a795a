/**
 * The bad-input corpus (issue 17's fault suite): test/fixtures/bad-input.jsonl holds one line of
 * every kind of bad input (malformed JSON, invalid UTF-8, missing / over-512-byte / empty /
 * boolean ids, empty text, text that is a number, an array, an object or null, an oversized
 * document, a line that is a JSON array, one that is a number) between good lines that are
 * awkward on purpose (a BOM on line 1, CRLF, a numeric id, an id with `/`, no final newline) and a
 * line whose id an earlier line had (refused as `duplicate_id`, naming that line; the first is indexed). Through the CLI: every bad line is recorded with its line number and a reason,
 * every good one is indexed, and the process ends normally. Real services, the tiny model.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { cliInvocation, configEnv } from '../../src/ingest/spawn-worker.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';
import { cleanup, uniqueConfig } from './ingest-helpers.js';

const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'bad-input.jsonl');
const config = { ...uniqueConfig('bad-input'), modelDir: TINY_MODEL };
const client = createOpenSearchClient(config);
const setIds: string[] = [];

afterAll(async () => {
  await cleanup(config, client, setIds);
  await client.close();
});

/** Line → code of every bad line (test/fixtures/make_bad_input.py). */
const BAD: [number, string][] = [
  [2, 'invalid_json'],
  [3, 'invalid_utf8'],
  [5, 'missing_id'],
  [7, 'invalid_id'],
  [10, 'duplicate_id'],
  [11, 'empty_text'],
  [12, 'invalid_text'],
  [13, 'invalid_text'],
  [14, 'invalid_text'],
  [15, 'missing_text'],
  [16, 'too_large'],
  [17, 'not_object'],
  [19, 'not_object'],
  [20, 'invalid_id'],
  [21, 'invalid_id'],
];
const GOOD_IDS = ['bi-1', 'bi-4', '6006', 'bi/8', 'bi-dup', 'bi-18', 'bi-22'];

it('every bad line of the corpus is recorded with its line number and reason, every good one indexed', async () => {
  const { command, args } = cliInvocation();
  const env = { ...process.env, ...configEnv(config), LOG_LEVEL: 'warn' };
  const r = spawnSync(command, [...args, 'ingest', FIXTURE, '--with-worker', '--max-doc-bytes', '2048', '--json'], { env, encoding: 'utf8', timeout: 180_000 });
  expect(r.signal).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  const summary = JSON.parse(r.stdout);
  setIds.push(summary.setId);
  // 22 lines: 15 bad (line 10 repeats line 9's id), 7 good.
  expect(summary).toMatchObject({ read: 22, queued: 7, indexed: 7, failed: 15, failedAtEntry: 15 });
  const f = spawnSync(command, [...args, 'failed', summary.setId, '--json'], { env, encoding: 'utf8', timeout: 60_000 });
  expect(f.status, f.stderr).toBe(0);
  const failed = JSON.parse(f.stdout) as { source: string; code: string; reason: string }[];
  expect(failed.map((x) => [Number(x.source.slice(FIXTURE.length + 1)), x.code])).toEqual(BAD);
  expect(failed.every((x) => x.source.startsWith(`${FIXTURE}:`) && x.reason.length > 10)).toBe(true);
  const dup = failed.find((x) => x.code === 'duplicate_id')!;
  expect(dup.reason).toContain('line 9');
  expect(dup).toMatchObject({ id: 'bi-dup' });

  await client.indices.refresh({ index: config.index });
  const docs = ((await client.mget({ index: config.index, body: { ids: GOOD_IDS } })).body as any).docs as { _id: string; found: boolean; _source?: any }[];
  expect(docs.filter((d) => !d.found).map((d) => d._id)).toEqual([]);
  const byId = Object.fromEntries(docs.map((d) => [d._id, d._source]));
  expect(byId['bi-1'].title).toBe('BOM first line');
  expect(byId['bi-4'].text).toBe('A line that ends with CRLF.');
  expect(byId['bi-dup'].text).toBe('The first line with a duplicated id is the one indexed.');
  expect(byId['bi-18'].metadata).toEqual({ year: 2024 });
  const count = ((await client.count({ index: config.index })).body as any).count;
  expect(count).toBe(GOOD_IDS.length);
  console.log(JSON.stringify({ fault: 'bad-input corpus (test/fixtures/bad-input.jsonl)', lines: summary.read, bad: failed.length, codes: [...new Set(failed.map((x) => x.code))], goodLines: summary.queued, indexedDocs: count, duplicate: { line: Number(dup.source.slice(FIXTURE.length + 1)), reason: dup.reason }, exit: r.status }));
});
