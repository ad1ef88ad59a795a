import type { Readable } from 'node:stream';
import { parseDocumentLine, type DocumentParseOptions, type ParseResult } from './document.js';
import { openSource } from './source-open.js';

/** One non-blank input line, parsed: `location` is `file:line` (1-based; `stdin:line` for `-`). */
export type SourceItem = ParseResult & { location: string; line: number };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Streams a JSON Lines source line by line and yields each non-blank line parsed and validated.
 * Lines end at `\n` (a `\r` before it is dropped). Memory stays flat whatever the file size: a line
 * longer than `maxDocBytes` is not kept, only counted, and rejected as `too_large`. A line that is
 * not valid UTF-8 is rejected as `invalid_utf8` with its line number (before, the decoder silently
 * replaced the bad bytes with U+FFFD and the line was indexed altered). The consumer's `await`s
 * pause the stream, which gives the producer its back-pressure.
 *
 * `source` is a path, `-` for stdin, or a readable stream (named by `name`); it is opened with
 * openSource, so a missing file, a directory or binary input throws SourceError before the first
 * line.
 */
export async function* readSource(
  source: string | Readable,
  opts: DocumentParseOptions,
  name: string = typeof source === 'string' ? (source === '-' ? 'stdin' : source) : 'stream',
): AsyncGenerator<SourceItem> {
  const input = await openSource(source, name);
  // Bytes kept of a line are bounded: past the limit (plus room for a `\r` and a BOM) only the count grows.
  const keep = opts.maxDocBytes + 4;
  let parts: Buffer[] = [];
  let kept = 0;
  let size = 0;
  let line = 0;

  const finish = (): SourceItem | undefined => {
    line++;
    const bytes = size;
    let buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, kept);
    parts = [];
    kept = 0;
    size = 0;
    let length = bytes;
    if (length > 0 && buf[buf.length - 1] === 0x0d && length === buf.length) {
      buf = buf.subarray(0, buf.length - 1);
      length--;
    }
    // A UTF-8 byte-order mark on the first line is not part of the JSON.
    if (line === 1 && buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
      buf = buf.subarray(3);
      length -= 3;
    }
    const location = `${name}:${line}`;
    if (length > opts.maxDocBytes) {
      return { ok: false, code: 'too_large', reason: `document is ${length} bytes, over the limit of ${opts.maxDocBytes} (--max-doc-bytes)`, location, line };
    }
    let text: string;
    try {
      text = utf8.decode(buf);
    } catch {
      if (isBlankBytes(buf)) return undefined;
      const at = firstInvalidUtf8(buf);
      return {
        ok: false,
        code: 'invalid_utf8',
        reason: `line is not valid UTF-8 (invalid byte 0x${buf[at]?.toString(16).padStart(2, '0')} at byte ${at + 1} of the line); convert the file to UTF-8`,
        location,
        line,
      };
    }
    if (text.trim() === '') return undefined;
    return { ...parseDocumentLine(text, location, opts), location, line };
  };

  const add = (b: Buffer) => {
    size += b.length;
    if (kept < keep) {
      const take = b.length <= keep - kept ? b : b.subarray(0, keep - kept);
      parts.push(take);
      kept += take.length;
    }
  };

  try {
    for await (const chunk of input) {
      const b = chunk as Buffer;
      let start = 0;
      for (;;) {
        const nl = b.indexOf(0x0a, start);
        if (nl < 0) break;
        add(b.subarray(start, nl));
        const item = finish();
        if (item) yield item;
        start = nl + 1;
      }
      if (start < b.length) add(b.subarray(start));
    }
    if (size > 0) {
      const item = finish();
      if (item) yield item;
    }
  } finally {
    input.destroy();
  }
}

function isBlankBytes(b: Buffer): boolean {
  for (const x of b) if (x !== 0x20 && x !== 0x09 && x !== 0x0d) return false;
  return true;
}

/** Offset of the first byte that breaks UTF-8 in `b` (0-based). */
export function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) [n, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    if (i + n >= b.length) return i; // truncated sequence at the end of the line
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length - 1;
}
