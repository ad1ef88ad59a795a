/**
 * Sending a request on to the cluster (@fastify/reply-from over an undici pool): as it came
 * (streaming both ways, the client's headers and credentials untouched), or with a body this
 * endpoint rewrote, and optionally with the cluster's JSON answer reshaped before it goes back.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';

export interface Forward {
  /** Upstream method (default: the request's). A GET whose body was read goes on as a POST. */
  method?: string;
  /** Upstream path (default: the request's). */
  path?: string;
  /** Query string for the upstream request, replacing the request's (without `?`). */
  query?: string;
  /** A rewritten body; the request's bytes otherwise (a read body is passed as `raw`). */
  body?: string | Buffer;
  /** With `body`: its Content-Type (default application/json). */
  contentType?: string;
  /** With a read body sent as it came: keep the client's Content-Encoding (the bytes are still compressed). */
  keepEncoding?: boolean;
  /** Reshapes a JSON answer: gets the cluster's status and parsed body, returns what the client gets. */
  transform?: (status: number, json: any) => Promise<{ status: number; body: unknown }> | { status: number; body: unknown };
}

async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks).toString('utf8');
}

export function forward(request: FastifyRequest, reply: FastifyReply, f: Forward = {}): FastifyReply {
  const rewritten = f.body !== undefined;
  const path = f.path ?? request.url.split('?')[0]!;
  const opts: Record<string, unknown> = {};
  if (f.method) opts.method = f.method;
  if (f.query !== undefined) opts.queryString = () => f.query;
  if (rewritten) {
    opts.body = f.body;
    opts.contentType = f.contentType ?? 'application/json';
  }
  // Headers go on as the client sent them unless this endpoint changed the body or reads the answer.
  if (rewritten || f.transform) {
    opts.rewriteRequestHeaders = (_req: unknown, headers: Record<string, string>) => {
      const h = { ...headers };
      if (rewritten && !f.keepEncoding) delete h['content-encoding'];
      // The answer is read here: ask for it uncompressed.
      if (f.transform) delete h['accept-encoding'];
      if (rewritten) delete h['transfer-encoding'];
      return h;
    };
  }
  if (f.transform) {
    const transform = f.transform;
    opts.onResponse = (_req: FastifyRequest, rep: FastifyReply, res: { statusCode: number; headers: Record<string, unknown>; stream: Readable }) => {
      void (async () => {
        const text = await collect(res.stream);
        const type = String(res.headers['content-type'] ?? '');
        let json: unknown;
        if (type.includes('json')) {
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
        }
        rep.removeHeader('content-length');
        if (json === undefined) return rep.send(text);
        const out = await transform(res.statusCode, json);
        return rep.code(out.status).header('content-type', 'application/json; charset=UTF-8').send(JSON.stringify(out.body));
      })().catch((err) => rep.send(err));
    };
  }
  return reply.from(path, opts as never);
}
