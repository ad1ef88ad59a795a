import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasContent, TextTokenizer } from '../../src/encoder/tokenize.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';

const tok = new TextTokenizer(JSON.parse(readFileSync(path.join(TINY_MODEL, 'tokenizer.json'), 'utf8')));
const golden = JSON.parse(readFileSync(path.join(TINY_MODEL, 'golden.json'), 'utf8')) as { cases: { mode: string; text: string; tokens: number }[] };
const maxLen = { document: 32, query: 16 } as Record<string, number>;

describe('TextTokenizer', () => {
  it('finds the BERT specials around a single sequence', () => {
    expect(tok.prefix).toEqual([101]);
    expect(tok.suffix).toEqual([102]);
  });

  it('ignores the truncation/padding (128, fixed) that tokenizer.json carries', () => {
    const e = tok.encode('short text', 256);
    expect(e.ids[0]).toBe(101);
    expect(e.ids.at(-1)).toBe(102);
    expect(e.ids.length).toBeLessThan(10); // no padding to 128
    const long = tok.encode('word '.repeat(300), 256);
    expect(long.ids.length).toBe(256); // not cut at 128
    expect(long.truncated).toBe(true);
    expect(long.fullLength).toBe(302);
  });

  it('truncates to max_length including [CLS]/[SEP], like Python enable_truncation', () => {
    const e = tok.encode('one two three four five six seven', 5);
    expect(e.ids).toEqual([101, ...tok.content('one two three').slice(0, 3), 102]);
    expect(e.truncated).toBe(true);
  });

  it('gives the same token counts as Python tokenizers for the golden texts', () => {
    for (const c of golden.cases) expect(tok.encode(c.text, maxLen[c.mode]!).ids.length, c.text).toBe(c.tokens);
  });

  it('gives no tokens for empty, whitespace and punctuation-only text', () => {
    for (const t of ['', '   \n\t', '!!! ... ?', '—–-', '()[]{}', '\u200b']) {
      expect(hasContent(t)).toBe(false);
      expect(tok.encode(t, 32)).toEqual({ ids: [], fullLength: 0, truncated: false });
      expect(tok.passages(t, 32, { overlap: 4, maxPassages: 8 }).passages).toEqual([]);
    }
    expect(hasContent('été')).toBe(true);
    expect(hasContent('42')).toBe(true);
    expect(hasContent('日本')).toBe(true);
  });

  it('splits long token sequences into overlapping windows', () => {
    const text = Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ');
    const content = tok.content(text);
    const { passages, truncated, fullLength } = tok.passages(text, 10, { overlap: 2, maxPassages: 100 });
    expect(fullLength).toBe(content.length + 2);
    expect(truncated).toBe(false);
    expect(passages.length).toBeGreaterThan(1);
    for (const p of passages) {
      expect(p.length).toBeLessThanOrEqual(10);
      expect(p[0]).toBe(101);
      expect(p.at(-1)).toBe(102);
    }
    // windows of 8 content tokens, step 6: every content token is covered, in order
    const inner = passages.map((p) => p.slice(1, -1));
    expect(inner[0]).toEqual(content.slice(0, 8));
    expect(inner[1]).toEqual(content.slice(6, 14));
    const covered = new Set<number>();
    inner.forEach((w, k) => w.forEach((_, j) => covered.add(k * 6 + j)));
    expect(covered.size).toBe(content.length);
  });

  it('caps passages and reports the rest as truncated; a text that fits is one passage', () => {
    const text = 'alpha '.repeat(100);
    const r = tok.passages(text, 10, { overlap: 0, maxPassages: 3 });
    expect(r.passages.length).toBe(3);
    expect(r.truncated).toBe(true);
    expect(tok.passages('a short one', 10, { overlap: 2, maxPassages: 3 }).passages.length).toBe(1);
  });
});
