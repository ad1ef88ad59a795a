/**
 * Pure parts of the server: the encoder gate's admission rules (with a fake encoder whose calls
 * finish when the test says), the server options, API keys, and the error → HTTP mapping.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { EncodeMode, Encoder } from '../../src/encoder/types.js';
import { SearchError } from '../../src/search/search.js';
import { ApiKeys } from '../../src/server/auth.js';
import { EncoderBusyError, EncoderGate, EncoderGateClosedError } from '../../src/server/encoder-gate.js';
import { fieldPath, httpAnswer, HttpError } from '../../src/server/errors.js';
import { loadServerOptions } from '../../src/server/options.js';
import { redactorFor } from '../../src/server/serve.js';
import type { SparseVector } from '../../src/sparse.js';

/** An encoder whose calls stay pending until release(i) (in call order). */
function fakeEncoder() {
  const pending: { texts: string[]; mode: EncodeMode; resolve: (v: SparseVector[]) => void }[] = [];
  const enc: Encoder = {
    model: { name: 'fake', version: '1', dictionarySize: 4 },
    encode: (texts, mode) => new Promise((resolve) => pending.push({ texts, mode, resolve })),
    stats: () => ({ texts: 0, tokens: 0, truncated: 0, passages: 0 }),
    label: () => undefined,
    close: async () => {},
  };
  const release = async (i = 0) => {
    const p = pending.splice(i, 1)[0]!;
    p.resolve(p.texts.map(() => ({ indices: new Uint32Array(0), values: new Float32Array(0) })));
    await new Promise((r) => setImmediate(r));
  };
  return { enc, pending, release };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('EncoderGate', () => {
  it('runs up to `concurrency` calls, queues up to `maxQueue`, refuses the next with EncoderBusyError and a Retry-After', async () => {
    const f = fakeEncoder();
    let rejected = 0;
    const gate = new EncoderGate(f.enc, { concurrency: 2, maxQueue: 1, onRejected: () => rejected++ });
    const a = gate.encode(['a'], 'query');
    const b = gate.encode(['b'], 'query');
    const c = gate.encode(['c'], 'query');
    await tick();
    expect(f.pending.map((p) => p.texts[0])).toEqual(['a', 'b']);
    expect(gate.busyThreads).toBe(2);
    expect(gate.waiting.foreground).toBe(1);
    const d = gate.encode(['d'], 'query');
    await expect(d).rejects.toBeInstanceOf(EncoderBusyError);
    await d.catch((e: EncoderBusyError) => expect(e.retryAfterS).toBeGreaterThanOrEqual(1));
    expect(rejected).toBe(1);
    await f.release(0);
    await a;
    expect(f.pending.map((p) => p.texts[0])).toEqual(['b', 'c']);
    await f.release(0);
    await f.release(0);
    await Promise.all([b, c]);
    expect(gate.busyThreads).toBe(0);
    expect(gate.active).toBe(0);
  });

  it('maxQueue 0: nothing waits; background work waits without a bound and yields to foreground calls', async () => {
    const f = fakeEncoder();
    const gate = new EncoderGate(f.enc, { concurrency: 1, maxQueue: 0 });
    const first = gate.encode(['fg1'], 'query');
    await expect(gate.encode(['x'], 'query')).rejects.toBeInstanceOf(EncoderBusyError);
    const bg = [gate.encode(['bg1'], 'document', undefined, 'background'), gate.encode(['bg2'], 'document', undefined, 'background')];
    await tick();
    expect(gate.waiting).toEqual({ foreground: 0, background: 2 });
    await f.release(0);
    await first;
    // the two background calls share one encode call
    expect(f.pending.map((p) => p.texts)).toEqual([['bg1', 'bg2']]);
    // with bound 0 a foreground call that finds the thread busy is refused
    await expect(gate.encode(['fg2'], 'query')).rejects.toBeInstanceOf(EncoderBusyError);
    await f.release(0);
    await Promise.all(bg);
  });

  it('a foreground call waiting is served before background calls that waited longer', async () => {
    const f = fakeEncoder();
    const gate = new EncoderGate(f.enc, { concurrency: 1, maxQueue: 4 });
    const run = gate.encode(['bg0'], 'document', undefined, 'background');
    const bg = gate.encode(['bg1'], 'document', undefined, 'background');
    const fg = gate.encode(['fg'], 'query');
    await tick();
    await f.release(0);
    await run;
    expect(f.pending.map((p) => p.texts[0])).toEqual(['fg']);
    await f.release(0);
    await fg;
    await f.release(0);
    await bg;
  });

  it('a call of many texts occupies several threads (textsPerThread), and waits until they are free', async () => {
    const f = fakeEncoder();
    const gate = new EncoderGate(f.enc, { concurrency: 2, maxQueue: 4, textsPerThread: 8 });
    const small = gate.encode(['one'], 'query');
    const big = gate.encode(Array.from({ length: 20 }, (_, i) => `t${i}`), 'document');
    await tick();
    expect(f.pending).toHaveLength(1);
    await f.release(0);
    await small;
    expect(gate.busyThreads).toBe(2);
    await f.release(0);
    await big;
  });

  it('waiting calls of the same mode and options share one encode call (up to textsPerThread texts); results go back to each', async () => {
    const f = fakeEncoder();
    const batches: number[] = [];
    const gate = new EncoderGate(f.enc, { concurrency: 1, maxQueue: 8, textsPerThread: 4, onBatch: (n) => batches.push(n) });
    const a = gate.encode(['a'], 'query');
    const waiting = ['b', 'c', 'd', 'e', 'f'].map((t) => gate.encode([t], 'query'));
    const doc = gate.encode(['doc'], 'document');
    const pruned = gate.encode(['p'], 'query', { pruning: { topK: 2 } });
    await tick();
    await f.release(0);
    await a;
    expect(f.pending.map((p) => p.texts)).toEqual([['b', 'c', 'd', 'e']]);
    f.pending[0]!.resolve(['b', 'c', 'd', 'e'].map((t, i) => ({ indices: Uint32Array.of(i), values: Float32Array.of(t.charCodeAt(0)) })));
    const got = await Promise.all(waiting.slice(0, 4));
    expect(got.map((v) => v[0]!.values[0])).toEqual(['b', 'c', 'd', 'e'].map((t) => t.charCodeAt(0)));
    f.pending.splice(0, 1);
    await tick();
    // next in order: 'f' (the document call and the call with other options are not merged with it)
    expect(f.pending.map((p) => [p.mode, p.texts])).toEqual([['query', ['f']]]);
    await f.release(0);
    expect(f.pending.map((p) => [p.mode, p.texts])).toEqual([['document', ['doc']]]);
    await f.release(0);
    await f.release(0);
    await Promise.all([waiting[4], doc, pruned]);
    expect(batches).toEqual([1, 4, 1, 1, 1]);
  });

  it('close() fails the waiting calls and refuses new ones', async () => {
    const f = fakeEncoder();
    const gate = new EncoderGate(f.enc, { concurrency: 1, maxQueue: 2 });
    const running = gate.encode(['a'], 'query');
    const waiting = gate.encode(['b'], 'query');
    gate.close();
    await expect(waiting).rejects.toBeInstanceOf(EncoderGateClosedError);
    await expect(gate.encode(['c'], 'query')).rejects.toBeInstanceOf(EncoderGateClosedError);
    await f.release(0);
    await running;
  });
});

describe('server options', () => {
  it('defaults: loopback, 8080, no keys, search open, bounded queue', () => {
    const o = loadServerOptions({}, {});
    expect(o).toMatchObject({ host: '127.0.0.1', port: 8080, apiKeys: [], searchAuth: false, encoderQueue: 64, corsOrigins: [], bodyLimit: 1048576 });
  });

  it('reads the environment, flags win, keys are checked without being echoed', () => {
    const env = { SAESPLADE_PORT: '9000', SAESPLADE_API_KEYS: 'a'.repeat(16) + ',' + 'b'.repeat(20), SAESPLADE_SEARCH_AUTH: 'true', SAESPLADE_CORS_ORIGINS: 'https://a.example, https://b.example' };
    const o = loadServerOptions({ port: '9001' }, env);
    expect(o.port).toBe(9001);
    expect(o.apiKeys).toHaveLength(2);
    expect(o.searchAuth).toBe(true);
    expect(o.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    const short = 'tooshort';
    expect(() => loadServerOptions({}, { SAESPLADE_API_KEYS: short })).toThrow(ConfigError);
    try {
      loadServerOptions({}, { SAESPLADE_API_KEYS: short });
    } catch (e) {
      expect((e as Error).message).toContain('SAESPLADE_API_KEYS');
      expect((e as Error).message).not.toContain(short);
    }
    expect(() => loadServerOptions({ port: '70000' }, {})).toThrow(/port \(--port; env SAESPLADE_PORT\)/);
    const dir = mkdtempSync(path.join(tmpdir(), 'saesplade-keys-'));
    try {
      const file = path.join(dir, 'keys');
      writeFileSync(file, '# service keys\n' + 'c'.repeat(16) + '\n\n' + 'd'.repeat(16) + '\n');
      expect(loadServerOptions({ apiKeysFile: file }, { SAESPLADE_API_KEYS: 'e'.repeat(16) }).apiKeys).toEqual(['e'.repeat(16), 'c'.repeat(16), 'd'.repeat(16)]);
      expect(() => loadServerOptions({ apiKeysFile: path.join(dir, 'missing') }, {})).toThrow(/cannot read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => loadServerOptions({ encoderQueue: 'many' }, {})).toThrow(/encoderQueue/);
  });
});

describe('ApiKeys', () => {
  const keys = new ApiKeys(['k'.repeat(16), 'other-key-0123456789']);
  it('accepts a configured key as Bearer, or as the Basic password when allowed', () => {
    expect(keys.refusal('Bearer ' + 'k'.repeat(16), { what: 'x' })).toBeUndefined();
    expect(keys.refusal('bearer other-key-0123456789', { what: 'x' })).toBeUndefined();
    const basic = 'Basic ' + Buffer.from('anyone:' + 'k'.repeat(16)).toString('base64');
    expect(keys.refusal(basic, { what: 'x', basic: true })).toBeUndefined();
    expect(keys.refusal(basic, { what: 'x' })?.statusCode).toBe(401);
  });
  it('refuses a missing or wrong key with 401 and a challenge, naming no key', () => {
    for (const h of [undefined, '', 'Bearer', 'Bearer nope', 'Token ' + 'k'.repeat(16)]) {
      const r = keys.refusal(h, { what: 'x' });
      expect(r?.statusCode).toBe(401);
      expect(r?.extra.headers?.['www-authenticate']).toMatch(/^Bearer/);
      expect(r?.message).not.toContain('k'.repeat(16));
    }
    expect(new ApiKeys([]).refusal('Bearer ' + 'k'.repeat(16), { what: 'x' })?.message).toContain('none configured');
  });
});

describe('httpAnswer', () => {
  it('maps validation errors to 400 with the field and the reason', () => {
    const a = httpAnswer({ validation: [{ instancePath: '/pruning/topK', keyword: 'minimum', message: 'must be >= 1' }], validationContext: 'body' });
    expect(a).toMatchObject({ statusCode: 400, body: { error: 'invalid_request', field: 'pruning.topK', reason: 'must be >= 1' } });
    const missing = httpAnswer({ validation: [{ instancePath: '', keyword: 'required', params: { missingProperty: 'query' }, message: "must have required property 'query'" }] });
    expect(missing.body).toMatchObject({ field: 'query', reason: 'is required' });
    expect(fieldPath('/filter/0/term')).toBe('filter[0].term');
  });
  it('503 + Retry-After for a busy encoder and an unreachable OpenSearch; 404/400 for OpenSearch answers; 500 says nothing', () => {
    expect(httpAnswer(new EncoderBusyError('busy', 3))).toMatchObject({ statusCode: 503, headers: { 'retry-after': '3' }, body: { error: 'encoder_busy' } });
    expect(httpAnswer(new SearchError('down')).statusCode).toBe(503);
    expect(httpAnswer(new SearchError('nope', { statusCode: 404 })).statusCode).toBe(404);
    expect(httpAnswer(new SearchError('bad', { statusCode: 400 })).statusCode).toBe(400);
    expect(httpAnswer(new SearchError('bad index', { field: 'index' })).body.field).toBe('index');
    expect(httpAnswer(new HttpError(404, 'not_found', 'x')).statusCode).toBe(404);
    const boom = httpAnswer(new Error('secret internals'));
    expect(boom.statusCode).toBe(500);
    expect(boom.unexpected).toBe(true);
    expect(JSON.stringify(boom.body)).not.toContain('secret');
    expect(httpAnswer({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).statusCode).toBe(413);
  });
  it('messages pass through the redaction of URL passwords, credentials and API keys', () => {
    const config = loadConfig({ redisUrl: 'redis://:pw-in-url@10.0.0.1:6379' }, { OPENSEARCH_PASSWORD: 'os-password' });
    const redact = redactorFor({ ...config, opensearchPassword: 'os-password' }, ['api-key-0123456789abcdef'], {});
    const a = httpAnswer(new HttpError(503, 'x', 'redis://:pw-in-url@10.0.0.1:6379 and os-password and api-key-0123456789abcdef'), redact);
    expect(a.body.message).not.toMatch(/pw-in-url|os-password|api-key-0123456789abcdef/);
    expect(a.body.message).toContain('***');
  });
});
