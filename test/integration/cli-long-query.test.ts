/**
 * Long text on the command line (docs/KNOWN_ISSUES.md): onnxruntime-node 1.30 segfaults creating a
 * session once the command line passes ~28 KB, so `search` and `encode` refuse more than 8 KB of
 * text in their arguments with a clear error (exit 1, no signal) and take long text on stdin.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cliInvocation, modelIdentity } from '../../src/ingest/index.js';
import { createOpenSearchClient } from '../../src/opensearch/client.js';
import { ensureConceptIndex } from '../../src/opensearch/indexes.js';
import { deleteIndexSafely } from '../../src/opensearch/safety.js';
import { uniqueConfig } from './ingest-helpers.js';

const config = uniqueConfig('long-query');
const client = createOpenSearchClient(config);
const long = Array.from({ length: 6000 }, (_, i) => ['heart', 'vitamin', 'fracture', 'protein', 'cell', 'gene'][i % 6]).join(' '); // ~40 KB
const LONG_BYTES = Buffer.byteLength(long);

beforeAll(async () => {
  await ensureConceptIndex(client, config.index, modelIdentity(config.modelDir));
});

afterAll(async () => {
  await deleteIndexSafely(client, config.index, 'test index');
  await client.close();
});

function cli(args: string[], input?: string) {
  const { command, args: pre } = cliInvocation();
  const r = spawnSync(command, [...pre, ...args], {
    encoding: 'utf8',
    input: input ?? '',
    env: { ...process.env, LOG_LEVEL: 'warn', SAESPLADE_INDEX: config.index },
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

it('the long text is about 40 KB', () => {
  expect(LONG_BYTES).toBeGreaterThan(38_000);
});

it.each([
  ['search', ['search', long, '--json'], /^error: the query on the command line is \d+ bytes, over the limit of 8192 bytes .*saesplade search - < query\.txt/],
  ['encode', ['encode', '--query', long, '--json'], /^error: the text on the command line is \d+ bytes, over the limit of 8192 bytes .*saesplade encode < texts\.txt/],
])('%s with a 40 KB argument: one clear line, exit code 1, no crash', (_name, args, message) => {
  const r = cli(args as string[]);
  console.log(JSON.stringify({ command: _name, argBytes: LONG_BYTES, status: r.status, signal: r.signal }));
  expect(r.signal).toBeNull();
  expect(r.status).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
});

it('search - reads the same 40 KB query on stdin and answers', () => {
  const r = cli(['search', '-', '--json'], long);
  expect(r.signal).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  const res = JSON.parse(r.stdout);
  expect(res.index).toBe(config.index);
  expect(res.queryVector.used).toBeGreaterThan(0);
});

it('encode reads the same text on stdin and answers', () => {
  const r = cli(['encode', '--query', '--json'], long + '\n');
  expect(r.signal).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  const res = JSON.parse(r.stdout);
  expect(res.results).toHaveLength(1);
  expect(res.results[0].nnz).toBeGreaterThan(0);
});
