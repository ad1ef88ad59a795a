import { SaespladeError } from '../errors.js';
/**
 * Bounds on text given on the command line. onnxruntime-node 1.30 segfaults while creating an
 * inference session when the process's command line totals more than about 28 KB (a 27 KB
 * command line works, 29 KB crashes with SIGSEGV; the environment's size does not matter):
 * docs/KNOWN_ISSUES.md has the five-line reproduction. So `search` and `encode` refuse long text
 * in their arguments with a clear error, before any session exists, and take it on stdin instead.
 */

/** Bytes of query or text allowed in the arguments of `search` / `encode`. */
export const MAX_ARGV_TEXT_BYTES = 8 * 1024;

/** Bytes of the whole command line allowed before a command creates an ONNX session. */
export const MAX_ARGV_TOTAL_BYTES = 24 * 1024;

/** Thrown for text too long for the command line; the CLI prints the message (exit code 1). */
export class ArgvTooLongError extends SaespladeError {
  override name = 'ArgvTooLongError';
}

/**
 * Refuses `texts` (from the arguments) over MAX_ARGV_TEXT_BYTES, and a whole command line over
 * MAX_ARGV_TOTAL_BYTES, saying how to pass the text on stdin (`stdinHint`).
 */
export function assertArgvFits(texts: string[], what: string, stdinHint: string, argv: string[] = process.argv): void {
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8') + 1, 0) - (texts.length > 0 ? 1 : 0);
  if (bytes > MAX_ARGV_TEXT_BYTES) {
    throw new ArgvTooLongError(
      `the ${what} on the command line is ${bytes} bytes, over the limit of ${MAX_ARGV_TEXT_BYTES} bytes there ` +
        `(onnxruntime-node crashes with a command line over about 28 KB, docs/KNOWN_ISSUES.md); pass long text on stdin instead: ${stdinHint}`,
    );
  }
  const total = argv.reduce((n, a) => n + Buffer.byteLength(a, 'utf8') + 1, 0);
  if (total > MAX_ARGV_TOTAL_BYTES) {
    throw new ArgvTooLongError(
      `the command line is ${total} bytes, over the limit of ${MAX_ARGV_TOTAL_BYTES} bytes (onnxruntime-node crashes with a ` +
        `command line over about 28 KB, docs/KNOWN_ISSUES.md); pass long text on stdin instead: ${stdinHint}`,
    );
  }
}

/** All of stdin as UTF-8 text. */
export async function readStdinText(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
