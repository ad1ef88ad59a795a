/**
 * API keys. A request proves it holds a configured key with `Authorization: Bearer <key>`; browsers
 * (the queue dashboard) may send it as the password of HTTP Basic (any user name). Keys are
 * compared as SHA-256 digests in constant time, never logged, and never part of an answer.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get count(): number {
    return this.digests.length;
  }

  /** Whether `key` is one of the configured keys (constant time in the key's content). */
  accepts(key: string): boolean {
    const d = digest(key);
    let ok = false;
    for (const k of this.digests) ok = timingSafeEqual(k, d) || ok;
    return ok;
  }

  /** The key a request presents: Bearer, or (`basic`) the password of Basic; undefined if none. */
  static presented(header: string | undefined, basic: boolean): string | undefined {
    if (!header) return undefined;
    const m = /^(\w+)\s+(.+)$/.exec(header.trim());
    if (!m) return undefined;
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'bearer') return m[2]!.trim();
    if (basic && scheme === 'basic') {
      const decoded = Buffer.from(m[2]!.trim(), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      return i >= 0 ? decoded.slice(i + 1) : undefined;
    }
    return undefined;
  }

  /** Why a request may not pass (an HttpError 401), or undefined when it presents a configured key. */
  refusal(authorization: string | undefined, opts: { basic?: boolean; what: string }): HttpError | undefined {
    const headers = { 'www-authenticate': opts.basic ? 'Basic realm="saesplade", charset="UTF-8"' : 'Bearer realm="saesplade"' };
    if (this.count === 0) {
      return new HttpError(401, 'unauthorized', `${opts.what} needs an API key, and this server has none configured: set SAESPLADE_API_KEYS (or SAESPLADE_API_KEYS_FILE) and restart it`, { headers });
    }
    const key = ApiKeys.presented(authorization, Boolean(opts.basic));
    if (key === undefined) return new HttpError(401, 'unauthorized', `${opts.what} needs an API key: send Authorization: Bearer <key>`, { headers });
    if (!this.accepts(key)) return new HttpError(401, 'unauthorized', 'the API key is not valid', { headers });
    return undefined;
  }

  /**
   * A Fastify onRequest hook that answers 401 unless the request presents a configured key.
   * `basic`: also take HTTP Basic and ask a browser for it (WWW-Authenticate: Basic). It answers by
   * itself rather than throwing, so that plugins with their own error handler (bull-board) give the
   * same 401.
   */
  guard(opts: { basic?: boolean; what: string }) {
    return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const refused = this.refusal(request.headers.authorization, opts);
      if (!refused) return undefined;
      reply.code(refused.statusCode).headers(refused.extra.headers ?? {});
      return reply.send({ error: refused.code, message: refused.message });
    };
  }
}
