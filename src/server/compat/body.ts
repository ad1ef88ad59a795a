/**
 * Request bodies of the routes the endpoint reads (bulk, doc, search): collected with a byte limit
 * and decompressed when the client sent them compressed (opensearch-js `compression: 'gzip'`).
 * Every other route streams its body to the cluster unread.
 */
import type { FastifyRequest } from 'fastify';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { CompatError } from './errors.js';

const decoders: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

export interface RequestBody {
  /** The bytes as they came (still compressed, if they were). */
  raw: Buffer;
  /** The body as text, decompressed. */
  text: string;
  /** Whether `raw` is compressed (content-encoding). */
  encoded: boolean;
}

export async function readBody(request: FastifyRequest, limit: number): Promise<RequestBody> {
  const stream = (request.body as Readable | undefined) ?? (request.raw as Readable);
  // Events rather than `for await`: on a pass-through search this read is on every request's path.
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const got: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer | string) => {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += b.length;
      if (size > limit) {
        stream.removeAllListeners('data');
        stream.resume();
        reject(new CompatError(413, 'saesplade_request_too_large_exception', `the request body is larger than the ${limit} bytes this endpoint reads (--compat-body-limit / SAESPLADE_COMPAT_BODY_LIMIT)`));
        return;
      }
      got.push(b);
    });
    stream.once('end', () => resolve(got));
    stream.once('error', reject);
  });
  const raw = Buffer.concat(chunks);
  const encoding = String(request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '' || raw.length === 0) return { raw, text: raw.toString('utf8'), encoded: false };
  const decode = decoders[encoding];
  if (!decode) throw new CompatError(415, 'illegal_argument_exception', `unsupported Content-Encoding "${encoding}" (gzip, deflate, br)`);
  try {
    return { raw, text: (await decode(raw)).toString('utf8'), encoded: true };
  } catch (err) {
    throw new CompatError(400, 'illegal_argument_exception', `the body is not valid ${encoding}: ${(err as Error).message}`);
  }
}
