/**
 * Wrong files (docs/INGEST.md, "Input"): gzip, other binary input, UTF-16, a missing file and a
 * directory are refused in one line before an index or a job set exists; lines that are not valid
 * UTF-8 are recorded as failed (`invalid_utf8`) with their line number while the good lines are
 * indexed. Fixtures: test/fixtures/bad-files/ (written by test/fixtures/make_bad_files.py).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { cliInvocation } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { createIngestQueue } from '../../src/queue/index.js';
import { createRedis } from '../../src/redis.js';
import { cleanup, uniqueConfig } from './ingest-helpers.js';

const FIX = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'bad-files');
const config = uniqueConfig('bad-files');
const client = createOpenSearchClient(config);
const redis = createRedis(config);
const dir = mkdtempSync(path.join(tmpdir(), 'saesplade-bad-files-'));
const setIds: string[] = [];

afterAll(async () => {
  await cleanup(config, client, setIds);
  await redis.quit();
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  const { command, args: pre } = cliInvocation();
  const r = spawnSync(command, [...pre, ...args], {
    encoding: 'utf8',
    input: '',
    env: { ...process.env, LOG_LEVEL: 'warn', SAESPLADE_INDEX: config.index, SAESPLADE_QUEUE: config.queue },
    timeout: 180_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Job sets of this test's queue (their hashes name the queue). */
async function jobSetsOfQueue(): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'saesplade:jobset:*', 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      if (/:(failed|commits|forwarded)$/.test(k)) continue;
      if ((await redis.type(k)) === 'hash' && (await redis.hget(k, 'queue')) === config.queue) found.push(k);
    }
  } while (cursor !== '0');
  return found;
}

async function nothingCreated(): Promise<void> {
  expect(((await client.indices.exists({ index: config.index })).body as boolean)).toBe(false);
  expect(await jobSetsOfQueue()).toEqual([]);
  const queue = createIngestQueue(config.queue, redis);
  const counts = await queue.getJobCounts();
  await queue.close();
  expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
}

describe('refused before anything is created: one line, exit code 1', () => {
  it.each([
    ['a gzip file', () => path.join(FIX, 'corpus.jsonl.gz'), /is gzip-compressed \(it starts with the bytes 1f 8b\), not JSON Lines text: decompress it first, e\.g\. gunzip -c .*corpus\.jsonl\.gz \| saesplade ingest -$/],
    ['binary bytes', () => path.join(FIX, 'binary.bin'), /binary\.bin is not text: it holds NUL bytes \(\d+ in its first 4096 bytes, the first at byte 0\)/],
    ['UTF-16 text', () => path.join(FIX, 'utf16.jsonl'), /is UTF-16 text \(little-endian byte-order mark\).*iconv -f UTF-16 -t UTF-8/],
    ['a missing file', () => path.join(dir, 'no-such-file.jsonl'), /^error: cannot read .*no-such-file\.jsonl: no such file$/],
    ['a directory', () => dir, /is a directory, not a JSON Lines file: give a file/],
  ])('%s', async (_name, file, message) => {
    for (const extra of [[], ['--wait', '--with-worker']]) {
      const r = cli(['ingest', file(), ...extra]);
      expect(r.signal).toBeNull();
      expect(r.status, r.stderr).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: /);
      expect(lines[0]).toMatch(message);
      expect(r.stdout).toBe('');
      await nothingCreated();
    }
  });
});

it('lines that are not valid UTF-8 are failed with their line number (invalid_utf8); the good lines are indexed unchanged', async () => {
  const file = path.join(FIX, 'invalid-utf8.jsonl');
  const r = cli(['ingest', file, '--with-worker', '--json']);
  expect(r.status, r.stderr).toBe(0);
  const summary = JSON.parse(r.stdout);
  setIds.push(summary.setId);
  expect(summary).toMatchObject({ read: 9, queued: 5, indexed: 5, failed: 4, failedAtEntry: 4 });
  const f = cli(['failed', summary.setId, '--json']);
  expect(f.status, f.stderr).toBe(0);
  const failed = JSON.parse(f.stdout) as { source: string; code: string; reason: string }[];
  expect(failed.map((x) => x.source)).toEqual([3, 6, 8, 9].map((n) => `${file}:${n}`));
  expect(failed.every((x) => x.code === 'invalid_utf8' && /not valid UTF-8 \(invalid byte 0x[0-9a-f]{2} at byte \d+ of the line\)/.test(x.reason))).toBe(true);
  const docs = ((await client.mget({ index: config.index, body: { ids: ['bf-100', 'bf-101', 'bf-103', 'bf-102'] } })).body as any).docs;
  expect(docs.map((d: any) => d.found)).toEqual([true, true, true, false]);
  expect(docs[1]._source.text).toBe('Caf\u00e9, \u4e2d\u6587 and \u{1F600} are valid UTF-8.');
  expect(docs[2]._source.text).toBe('A CRLF line ending.');
  const all = JSON.stringify(docs);
  expect(all).not.toContain('\ufffd');
  console.log(JSON.stringify({ fault: 'invalid UTF-8 on 4 of 9 lines', read: summary.read, indexed: summary.indexed, failed: summary.failed, codes: [...new Set(failed.map((x) => x.code))] }));
});
