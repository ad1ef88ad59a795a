import { describe, expect, it } from 'vitest';
import { canonicalJson, classifyError, contentHash, isClusterUnavailable, PermanentIngestError, TransientIngestError } from '../../src/ingest/index.js';
import { isRetryableStatus } from '../../src/ingest/errors.js';

const M = { name: 'm', version: '1.0.0' };

describe('contentHash', () => {
  it('is a stable sha256 hex of model and text fields', () => {
    const h = contentHash(M, { title: 'T', text: 'body' });
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(contentHash(M, { title: 'T', text: 'body' })).toBe(h);
  });

  it('changes with the text, the title, the model name or the model version', () => {
    const h = contentHash(M, { title: 'T', text: 'body' });
    expect(contentHash(M, { title: 'T', text: 'body.' })).not.toBe(h);
    expect(contentHash(M, { title: 'T2', text: 'body' })).not.toBe(h);
    expect(contentHash({ ...M, name: 'other' }, { title: 'T', text: 'body' })).not.toBe(h);
    expect(contentHash({ ...M, version: '1.0.1' }, { title: 'T', text: 'body' })).not.toBe(h);
  });

  it('does not confuse where title ends and text begins, nor a missing and an empty title', () => {
    expect(contentHash(M, { title: 'a b', text: 'c' })).not.toBe(contentHash(M, { title: 'a', text: 'b c' }));
    expect(contentHash(M, { text: 'c' })).not.toBe(contentHash(M, { title: '', text: 'c' }));
  });
});

describe('canonicalJson', () => {
  it('ignores key order, at any depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });
});

describe('classifyError', () => {
  const responseError = (statusCode: number) => Object.assign(new Error('x'), { name: 'ResponseError', statusCode, body: { error: { reason: 'why' } } });
  it.each([
    ['connection error', Object.assign(new Error('ECONNREFUSED'), { name: 'ConnectionError' }), TransientIngestError],
    ['timeout', Object.assign(new Error('t'), { name: 'TimeoutError' }), TransientIngestError],
    ['429', responseError(429), TransientIngestError],
    ['503', responseError(503), TransientIngestError],
    ['500 (whole request: the same rule as a bulk item)', responseError(500), TransientIngestError],
    ['501', responseError(501), TransientIngestError],
    ['408', responseError(408), TransientIngestError],
    ['400', responseError(400), PermanentIngestError],
    ['404', responseError(404), PermanentIngestError],
    ['model mismatch', Object.assign(new Error('m'), { name: 'IndexModelMismatchError' }), PermanentIngestError],
    ['unknown', new Error('?'), TransientIngestError],
    ['TypeError (deterministic: not retried)', new TypeError("Cannot read properties of undefined (reading 'x')"), PermanentIngestError],
    ['RangeError (deterministic: not retried)', new RangeError('Invalid array length'), PermanentIngestError],
  ])('%s', (_n, err, cls) => {
    expect(classifyError(err)).toBeInstanceOf(cls);
  });
});

describe('isRetryableStatus / isClusterUnavailable', () => {
  const responseError = (statusCode: number) => Object.assign(new Error('x'), { name: 'ResponseError', statusCode });
  it('retries 408, 429 and every 5xx, nothing else', () => {
    expect([400, 401, 404, 408, 409, 413, 429, 500, 502, 503, 504, 599].filter(isRetryableStatus)).toEqual([408, 429, 500, 502, 503, 504, 599]);
  });
  it('calls the cluster unavailable on connection errors and whole-request 502/503/504 only', () => {
    expect(isClusterUnavailable(Object.assign(new Error('ECONNREFUSED'), { name: 'ConnectionError' }))).toBe(true);
    expect(isClusterUnavailable(Object.assign(new Error('none'), { name: 'NoLivingConnectionsError' }))).toBe(true);
    expect([500, 502, 503, 504, 429].map((s) => isClusterUnavailable(responseError(s)))).toEqual([false, true, true, true, false]);
    expect(isClusterUnavailable(new Error('other'))).toBe(false);
  });
});
