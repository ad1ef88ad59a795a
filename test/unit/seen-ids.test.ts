import { expect, it } from 'vitest';
import { SeenIds } from '../../src/ingest/seen-ids.js';

it('returns the first line of an id read again, and nothing for a new id', () => {
  const seen = new SeenIds(16);
  expect(seen.firstLineOf('a', 1)).toBeUndefined();
  expect(seen.firstLineOf('b', 2)).toBeUndefined();
  expect(seen.firstLineOf('a', 3)).toBe(1);
  expect(seen.firstLineOf('a', 4)).toBe(1);
  expect(seen.size).toBe(2);
});

it('keeps every id across growth of its table', () => {
  const seen = new SeenIds(16);
  for (let i = 0; i < 50_000; i++) expect(seen.firstLineOf(`id-${i}`, i + 1)).toBeUndefined();
  expect(seen.size).toBe(50_000);
  for (let i = 0; i < 50_000; i += 997) expect(seen.firstLineOf(`id-${i}`, 99_999)).toBe(i + 1);
  expect(seen.firstLineOf('id-50000', 1)).toBeUndefined();
});
