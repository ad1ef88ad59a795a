/**
 * The cluster behind the OpenSearch-compatible endpoint: its base URL (without credentials), the
 * undici pool options (TLS as the config says), a client without credentials of its own for the
 * endpoint's reads (each sends its caller's Authorization), and the cluster's errors as answers.
 */
import { readFileSync } from 'node:fs';
import { errors as osErrors, Client } from '@opensearch-project/opensearch';
import { ConfigError, type Config } from '../../config.js';
import { SaespladeError } from '../../errors.js';
import { CompatError, openSearchErrorBody } from './errors.js';

export interface Upstream {
  /** `http(s)://host:port` of the cluster, user info removed. */
  base: string;
  /** undici Pool options for @fastify/reply-from. */
  undici: Record<string, unknown>;
  /** For the endpoint's own reads (`_mapping`, `mget`): no credentials; callers pass theirs. */
  client: Client;
}

export function upstreamOf(config: Config): Upstream {
  const url = new URL(config.opensearchUrl);
  url.username = '';
  url.password = '';
  const base = url.origin;
  let ca: Buffer | undefined;
  if (config.opensearchCaCert) {
    try {
      ca = readFileSync(config.opensearchCaCert);
    } catch (err) {
      throw new ConfigError(`opensearchCaCert (OPENSEARCH_CA_CERT): cannot read ${config.opensearchCaCert}: ${(err as Error).message}`);
    }
  }
  const tls = url.protocol === 'https:' ? { ...(ca ? { ca } : {}), rejectUnauthorized: !config.opensearchInsecure } : undefined;
  const undici = { connections: 128, pipelining: 1, keepAliveTimeout: 30_000, ...(tls ? { connect: tls } : {}) };
  const client = new Client({ node: base, ...(tls ? { ssl: tls } : {}), maxRetries: 0, requestTimeout: 30_000 });
  return { base, undici, client };
}

/** The caller's credentials, for the endpoint's own reads on its behalf. */
export function callerHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  const auth = headers.authorization;
  if (typeof auth === 'string') out.authorization = auth;
  return out;
}

/** A cluster error (opensearch-js) as this endpoint's answer: the cluster's own status and body. */
export function clusterError(err: unknown): unknown {
  if (err instanceof osErrors.ResponseError) {
    const status = err.statusCode ?? 502;
    const body = err.body as unknown;
    if (body && typeof body === 'object') return new ClusterAnswer(status, body as Record<string, unknown>);
    return new CompatError(status, 'saesplade_upstream_exception', `the cluster answered ${status}: ${String(body).slice(0, 300)}`);
  }
  if (err instanceof osErrors.ConnectionError || err instanceof osErrors.TimeoutError || err instanceof osErrors.NoLivingConnectionsError) {
    return new CompatError(502, 'saesplade_upstream_exception', `the cluster did not answer: ${(err as Error).message}`, undefined, { 'retry-after': '5' });
  }
  return err;
}

/** The cluster answered this (an error of its own): given to the client as it is. */
export class ClusterAnswer extends SaespladeError {
  override name = 'ClusterAnswer';
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(`cluster answered ${status}`);
  }
}

export { openSearchErrorBody };
