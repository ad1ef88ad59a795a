import { expect, it } from 'vitest';
import { BusyBackoff, isClusterBusy } from '../../src/ingest/busy.js';
import { TransientIngestError } from '../../src/ingest/errors.js';

const responseError = (statusCode: number) => Object.assign(new Error('x'), { name: 'ResponseError', statusCode });

it('is true for a whole-request 429 only, also wrapped', () => {
  expect(isClusterBusy(responseError(429))).toBe(true);
  expect(isClusterBusy(new TransientIngestError('busy', {}, { cause: responseError(429) }))).toBe(true);
  for (const s of [408, 500, 503, 400]) expect(isClusterBusy(responseError(s))).toBe(false);
  expect(isClusterBusy(Object.assign(new Error('x'), { name: 'ConnectionError' }))).toBe(false);
  expect(isClusterBusy(undefined)).toBe(false);
});

it('doubles its delay up to the cap, with jitter, and stops waiting past its patience', async () => {
  const b = new BusyBackoff({ patienceMs: 50, firstDelayMs: 4, maxDelayMs: 16 });
  expect(b.canWait()).toBe(true);
  const d0 = b.nextDelayMs();
  expect(d0).toBeGreaterThanOrEqual(3);
  expect(d0).toBeLessThanOrEqual(5);
  while (b.canWait()) await b.wait();
  expect(b.count).toBeGreaterThan(2);
  expect(b.nextDelayMs()).toBeLessThanOrEqual(20);
  expect(b.waitedMs).toBeLessThanOrEqual(50);
});
