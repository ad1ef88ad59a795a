import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { SaespladeError } from '../errors.js';

/**
 * Opening an ingest source, checked before anything is created (no index, no job set): a missing
 * file, a directory, or input that is not text (gzip and other archives by their magic bytes,
 * UTF-16, anything with NUL bytes) is refused with one line saying what it is and what to do.
 * Before this, a gzip file was read as 1,115 bad lines and the command exited 0, and a missing
 * file or a directory left a job set "reading and queueing" forever.
 */

/** The source cannot be ingested as it is; the CLI prints the message (exit code 1). */
export class SourceError extends SaespladeError {
  override name = 'SourceError';
}

/** Bytes looked at to tell text from binary: the first chunk a read stream delivers (64 KiB). */
const SNIFF_BYTES = 64 * 1024;

const MAGIC: { name: string; bytes: number[]; hint: (file: string) => string }[] = [
  { name: 'gzip-compressed', bytes: [0x1f, 0x8b], hint: (f) => `decompress it first, e.g. gunzip -c ${f} | saesplade ingest -` },
  { name: 'a zip archive', bytes: [0x50, 0x4b, 0x03, 0x04], hint: (f) => `extract the JSON Lines file first, e.g. unzip -p ${f} | saesplade ingest -` },
  { name: 'bzip2-compressed', bytes: [0x42, 0x5a, 0x68], hint: (f) => `decompress it first, e.g. bzip2 -dc ${f} | saesplade ingest -` },
  { name: 'xz-compressed', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], hint: (f) => `decompress it first, e.g. xz -dc ${f} | saesplade ingest -` },
  { name: 'zstd-compressed', bytes: [0x28, 0xb5, 0x2f, 0xfd], hint: (f) => `decompress it first, e.g. zstd -dc ${f} | saesplade ingest -` },
  { name: 'a 7-zip archive', bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], hint: () => 'extract the JSON Lines file first' },
  { name: 'UTF-16 text (little-endian byte-order mark)', bytes: [0xff, 0xfe], hint: (f) => `convert it to UTF-8 first, e.g. iconv -f UTF-16 -t UTF-8 ${f} | saesplade ingest -` },
  { name: 'UTF-16 text (big-endian byte-order mark)', bytes: [0xfe, 0xff], hint: (f) => `convert it to UTF-8 first, e.g. iconv -f UTF-16 -t UTF-8 ${f} | saesplade ingest -` },
];

const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

/**
 * Why `head` (the first bytes of a source) is not JSON Lines text, or undefined when it may be:
 * known magic bytes, or NUL bytes (never in UTF-8 JSON text: JSON escapes control characters) in
 * the first 8 KiB or over 0.1% of the sample. A stray NUL further on is left to the line
 * parser (that line is rejected as invalid JSON).
 */
export function binaryProblem(head: Buffer, name: string): string | undefined {
  for (const m of MAGIC) {
    if (head.length >= m.bytes.length && m.bytes.every((b, i) => head[i] === b)) {
      return `${name} is ${m.name} (it starts with the bytes ${hex(head.subarray(0, m.bytes.length))}), not JSON Lines text: ${m.hint(name === 'stdin' ? '<file>' : name)}`;
    }
  }
  const first = head.indexOf(0);
  if (first < 0) return undefined;
  let nuls = 0;
  for (const b of head) if (b === 0) nuls++;
  if (first < 8192 || nuls > head.length / 1000) {
    return `${name} is not text: it holds NUL bytes (${nuls} in its first ${head.length} bytes, the first at byte ${first}), which JSON Lines never does; give a UTF-8 JSON Lines file (one JSON object per line)`;
  }
  return undefined;
}

/**
 * Opens a source for reading: a path (`-` is stdin) or a stream. Checks it before any byte is
 * consumed by the caller, and returns a byte stream that starts with the bytes looked at.
 * Throws SourceError for a missing or unreadable file, a directory, and non-text input.
 */
export async function openSource(source: string | Readable, name: string): Promise<Readable> {
  let input: Readable;
  if (typeof source === 'string' && source !== '-') {
    let st;
    try {
      st = await stat(source);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SourceError(
        code === 'ENOENT'
          ? `cannot read ${source}: no such file`
          : code === 'EACCES'
            ? `cannot read ${source}: permission denied`
            : `cannot read ${source}: ${(err as Error).message}`,
      );
    }
    if (st.isDirectory()) {
      throw new SourceError(`${source} is a directory, not a JSON Lines file: give a file (for a BEIR dataset, its corpus.jsonl), or - for stdin`);
    }
    input = createReadStream(source, { highWaterMark: SNIFF_BYTES });
  } else {
    input = source === '-' ? process.stdin : (source as Readable);
  }
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let first: IteratorResult<Buffer | string>;
  try {
    first = await it.next();
  } catch (err) {
    input.destroy();
    throw new SourceError(`cannot read ${name}: ${(err as Error).message}`);
  }
  const head = first.done ? Buffer.alloc(0) : toBuffer(first.value);
  const problem = binaryProblem(head, name);
  if (problem) {
    input.destroy();
    throw new SourceError(problem);
  }
  const out = Readable.from(
    (async function* () {
      if (!first.done) yield head;
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        yield toBuffer(n.value);
      }
    })(),
    { objectMode: false },
  );
  // Stop reading a file when the consumer is done or stops early; stdin is not ours to close.
  if (typeof source === 'string' && source !== '-') out.on('close', () => input.destroy());
  return out;
}

/**
 * The checks of openSource for a path, without opening a stream: for commands that do other work
 * first (`ingest --upgrade` runs a reindex before it reads the source).
 */
export async function checkSourcePath(path: string): Promise<void> {
  (await openSource(path, path)).destroy();
}

function toBuffer(v: Buffer | string): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}
