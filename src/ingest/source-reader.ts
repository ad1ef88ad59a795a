import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parseDocumentLine, type DocumentParseOptions, type ParseResult } from './document.js';

/** One non-blank input line, parsed: `location` is `file:line` (1-based; `stdin:line` for `-`). */
export type SourceItem = ParseResult & { location: string; line: number };

/**
 * Streams a JSON Lines source line by line (readline over a read stream, so memory stays flat
 * whatever the file size) and yields each non-blank line parsed and validated. The consumer's
 * `await`s pause the stream, which is what gives the producer its back-pressure.
 * `source` is a path, `-` for stdin, or a readable stream (named by `name`).
 */
export async function* readSource(
  source: string | Readable,
  opts: DocumentParseOptions,
  name: string = typeof source === 'string' ? (source === '-' ? 'stdin' : source) : 'stream',
): AsyncGenerator<SourceItem> {
  const input: Readable = typeof source !== 'string' ? source : source === '-' ? process.stdin : createReadStream(source);
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of rl) {
      line++;
      // A UTF-8 byte-order mark on the first line is not part of the JSON.
      const clean = line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
      if (clean.trim() === '') continue;
      const location = `${name}:${line}`;
      yield { ...parseDocumentLine(clean, location, opts), location, line };
    }
  } finally {
    rl.close();
    if (typeof source === 'string' && source !== '-') input.destroy();
  }
}
