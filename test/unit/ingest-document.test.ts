import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  encoderInput,
  parseDocumentLine,
  readSource,
  resolveParseOptions,
  type DocumentParseOptions,
  type ParseResult,
} from '../../src/ingest/index.js';
import { binaryProblem } from '../../src/ingest/source-open.js';

const AUTO = resolveParseOptions({});
const parse = (line: string, opts: DocumentParseOptions = AUTO): ParseResult => parseDocumentLine(line, 'f.jsonl:7', opts);

describe('parseDocumentLine: accepted documents', () => {
  it.each([
    ['id + title + text', '{"id":"d1","title":"T","text":"body"}', { id: 'd1', title: 'T', text: 'body' }],
    ['BEIR _id as fallback in auto', '{"_id":"4983","title":"T","text":"body","metadata":{}}', { id: '4983', title: 'T', text: 'body', metadata: {} }],
    ['numeric id becomes a string', '{"id":42,"text":"body"}', { id: '42', text: 'body' }],
    ['title only', '{"id":"d","title":"only a title"}', { id: 'd', title: 'only a title', text: '' }],
    ['null title', '{"id":"d","title":null,"text":"body"}', { id: 'd', text: 'body' }],
    ['metadata kept', '{"id":"d","text":"x","metadata":{"year":2020,"tags":["a"]}}', { id: 'd', text: 'x', metadata: { year: 2020, tags: ['a'] } }],
  ])('%s', (_name, line, expected) => {
    const r = parse(line);
    expect(r).toEqual({ ok: true, doc: { ...expected, source: 'f.jsonl:7' } });
  });

  it('uses configured field names (one text field = text, several = title + rest)', () => {
    const one = resolveParseOptions({ idField: 'docid', textFields: ['body'], metadataField: 'meta' });
    expect(parse('{"docid":"a","body":"hello","meta":{"k":1}}', one)).toEqual({
      ok: true,
      doc: { id: 'a', text: 'hello', metadata: { k: 1 }, source: 'f.jsonl:7' },
    });
    const three = resolveParseOptions({ textFields: ['headline', 'lead', 'body'] });
    expect(parse('{"id":"a","headline":"H","lead":"L","body":"B"}', three)).toEqual({
      ok: true,
      doc: { id: 'a', title: 'H', text: 'L\n\nB', source: 'f.jsonl:7' },
    });
  });

  it('beir format fixes the fields to _id/title/text/metadata', () => {
    const beir = resolveParseOptions({ format: 'beir', idField: 'ignored' });
    expect(beir.idField).toBe('_id');
    expect(parse('{"_id":"x","text":"t"}', beir)).toMatchObject({ ok: true, doc: { id: 'x' } });
    expect(parse('{"id":"x","text":"t"}', beir)).toMatchObject({ ok: false, code: 'missing_id' });
  });
});

describe('parseDocumentLine: rejected lines', () => {
  it.each([
    ['not JSON', '{"id": "a", "text": ', 'invalid_json', undefined],
    ['JSON array', '[1,2]', 'not_object', undefined],
    ['JSON string', '"text"', 'not_object', undefined],
    ['no id', '{"text":"body"}', 'missing_id', undefined],
    ['empty id', '{"id":"  ","text":"body"}', 'invalid_id', undefined],
    ['object id', '{"id":{"a":1},"text":"body"}', 'invalid_id', undefined],
    ['no text fields', '{"id":"a","body":"x"}', 'missing_text', 'a'],
    ['empty text', '{"id":"a","title":"","text":"   "}', 'empty_text', 'a'],
    ['text not a string', '{"id":"a","text":["x"]}', 'invalid_text', 'a'],
    ['metadata not an object', '{"id":"a","text":"x","metadata":"m"}', 'invalid_metadata', 'a'],
  ])('%s', (_name, line, code, id) => {
    const r = parse(line);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe(code);
    expect(r.id).toBe(id);
    expect(r.reason).not.toBe('');
  });

  it('rejects lines over the size limit before parsing them', () => {
    const small = resolveParseOptions({ maxDocBytes: 100 });
    const line = JSON.stringify({ id: 'a', text: 'é'.repeat(60) }); // 60 two-byte characters: > 100 bytes
    expect(line.length).toBeLessThan(100);
    expect(parse(line, small)).toMatchObject({ ok: false, code: 'too_large' });
    expect(parse('{"id":"a","text":"short"}', small)).toMatchObject({ ok: true });
  });

  it('rejects ids longer than OpenSearch allows (512 bytes)', () => {
    expect(parse(JSON.stringify({ id: 'x'.repeat(513), text: 't' }))).toMatchObject({ ok: false, code: 'invalid_id' });
    expect(parse(JSON.stringify({ id: 'x'.repeat(512), text: 't' }))).toMatchObject({ ok: true });
  });
});

describe('encoderInput', () => {
  it('joins title and text with a space, and copes with either missing', () => {
    expect(encoderInput({ title: 'T', text: 'body' })).toBe('T body');
    expect(encoderInput({ text: 'body' })).toBe('body');
    expect(encoderInput({ title: 'T', text: '' })).toBe('T');
  });
});

describe('readSource', () => {
  it('streams lines with 1-based line numbers, skipping blank lines and a BOM', async () => {
    const input = Readable.from(['\uFEFF{"id":"a","text":"x"}\n', '\n', 'oops\n{"id":"b",', '"text":"y"}\r\n', '   \n{"id":"c","text":"z"}']);
    const items = [];
    for await (const it of readSource(input, AUTO, 'in.jsonl')) items.push(it);
    expect(items.map((i) => [i.location, i.ok])).toEqual([
      ['in.jsonl:1', true],
      ['in.jsonl:3', false],
      ['in.jsonl:4', true],
      ['in.jsonl:6', true],
    ]);
    expect(items[2]).toMatchObject({ ok: true, doc: { id: 'b', text: 'y', source: 'in.jsonl:4' } });
  });
});

describe('readSource: bytes', () => {
  const collect = async (chunks: (string | Buffer)[], opts: DocumentParseOptions = AUTO) => {
    const items = [];
    for await (const it of readSource(Readable.from(chunks), opts, 'b.jsonl')) items.push(it);
    return items;
  };

  it('records a line that is not UTF-8 as invalid_utf8, even when a chunk splits a valid multi-byte character', async () => {
    const euro = Buffer.from('{"id":"e","text":"\u20ac"}'); // the euro sign: 3 bytes, split by the chunks below
    const items = await collect([Buffer.from('{"id":"a","text":"x\xff"}\n', 'latin1'), euro.subarray(0, 20), euro.subarray(20), Buffer.from('\n')]);
    expect(items.map((i) => [i.location, i.ok ? 'ok' : i.code])).toEqual([
      ['b.jsonl:1', 'invalid_utf8'],
      ['b.jsonl:2', 'ok'],
    ]);
    expect(items[0]).toMatchObject({ reason: expect.stringMatching(/invalid byte 0xff at byte 20 of the line/) });
  });

  it('keeps at most --max-doc-bytes of a line in memory and rejects it as too_large with its full size', async () => {
    const opts = resolveParseOptions({ maxDocBytes: 100 });
    const items = await collect(['{"id":"big","text":"', 'x'.repeat(5000), '"}\n{"id":"ok","text":"y"}\n'], opts);
    expect(items.map((i) => (i.ok ? 'ok' : i.code))).toEqual(['too_large', 'ok']);
    expect(items[0]).toMatchObject({ reason: 'document is 5022 bytes, over the limit of 100 (--max-doc-bytes)' });
  });
});

describe('binaryProblem', () => {
  it.each([
    ['gzip', [0x1f, 0x8b, 8, 0], /gzip-compressed/],
    ['zip', [0x50, 0x4b, 3, 4], /zip archive/],
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0], /xz-compressed/],
    ['zstd', [0x28, 0xb5, 0x2f, 0xfd], /zstd-compressed/],
    ['UTF-16', [0xff, 0xfe, 0x7b, 0], /UTF-16/],
    ['NUL bytes', [0x7b, 0x22, 0, 0x22], /holds NUL bytes/],
  ])('%s is refused', (_n, bytes, message) => {
    expect(binaryProblem(Buffer.from(bytes as number[]), 'f')).toMatch(message);
  });
  it('accepts UTF-8 JSON Lines', () => {
    expect(binaryProblem(Buffer.from('{"id":"a","text":"Caf\u00e9"}\n'), 'f')).toBeUndefined();
  });
});

