import { readFileSync } from 'node:fs';
import { Client, errors } from '@opensearch-project/opensearch';
import { ConfigError, type Config } from '../config.js';
import { describeNetworkError, redactUrl, ServiceUnreachableError } from '../errors.js';
import { rememberEngine, UnsupportedEngineError, type SearchEngine, type SupportLevel } from './engine.js';

export type { Client } from '@opensearch-project/opensearch';

const OPENSEARCH_HINT = 'start the local node with scripts/services.sh start, or set OPENSEARCH_URL to your cluster';

/**
 * The OpenSearch client for the configured cluster: basic auth when a username is set, a private CA
 * (PEM file) and, for development clusters only, no certificate verification.
 */
export function createOpenSearchClient(config: Config): Client {
  let ca: Buffer | undefined;
  if (config.opensearchCaCert) {
    try {
      ca = readFileSync(config.opensearchCaCert);
    } catch (err) {
      throw new ConfigError(
        `opensearchCaCert (OPENSEARCH_CA_CERT): cannot read ${config.opensearchCaCert}: ${(err as Error).message}`,
      );
    }
  }
  const ssl = ca !== undefined || config.opensearchInsecure ? { ca, rejectUnauthorized: !config.opensearchInsecure } : undefined;
  return new Client({
    node: config.opensearchUrl,
    auth:
      config.opensearchUsername !== undefined
        ? { username: config.opensearchUsername, password: config.opensearchPassword ?? '' }
        : undefined,
    ssl,
  });
}

export interface ClusterIdentity {
  /** `opensearch`, or `elasticsearch` for a cluster whose `GET /` has no distribution. */
  distribution: string;
  version: string;
  /** Whether this engine and version are tested, or only expected to work (src/opensearch/engine.ts). */
  support: SupportLevel;
}

/**
 * `GET /` on the cluster. Throws ServiceUnreachableError naming the URL, what failed (ECONNREFUSED,
 * 401, TLS ...) and what to try, instead of the client's bare error; UnsupportedEngineError (listing
 * the supported engines) for an engine or version the product does not support. What it learned is
 * kept for getEngine(client), which then does not ask again.
 */
export async function checkOpenSearch(client: Client, url: string, timeoutMs = 5000): Promise<ClusterIdentity> {
  const where = redactUrl(url);
  let body: { version?: { number?: string; distribution?: string } } | undefined;
  try {
    const res = await client.info({}, { requestTimeout: timeoutMs, maxRetries: 0 });
    body = res.body as typeof body;
  } catch (err) {
    const { what, hint } = describeOpenSearchFailure(err);
    throw new ServiceUnreachableError(
      'opensearch',
      url,
      `OpenSearch at ${where} is not usable: ${what}. Try: ${hint ? hint + '; or ' : ''}${OPENSEARCH_HINT}.`,
      { cause: err },
    );
  }
  const version = body?.version?.number;
  if (!version) {
    throw new ServiceUnreachableError(
      'opensearch',
      url,
      `${where} answered GET / but not like OpenSearch (no version.number in ${JSON.stringify(body).slice(0, 200)}). Try: ${OPENSEARCH_HINT}.`,
    );
  }
  let engine: SearchEngine;
  try {
    engine = rememberEngine(client, body);
  } catch (err) {
    if (err instanceof UnsupportedEngineError) err.message = `${where}: ${err.message}`;
    throw err;
  }
  return { distribution: body?.version?.distribution ?? 'elasticsearch', version, support: engine.info.support };
}

function describeOpenSearchFailure(err: unknown): { what: string; hint?: string } {
  if (err instanceof errors.ResponseError) {
    const status = err.statusCode;
    if (status === 401) {
      return {
        what: 'HTTP 401 Unauthorized (the cluster wants credentials, or rejected the ones given)',
        hint: 'set OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD',
      };
    }
    if (status === 403) {
      return { what: 'HTTP 403 Forbidden (the user may not call GET /)', hint: 'check the user\'s roles on the cluster' };
    }
    return { what: `HTTP ${status} (${JSON.stringify(err.body ?? '').slice(0, 200)})` };
  }
  if (err instanceof errors.TimeoutError) return { what: 'request timed out' };
  return describeNetworkError(err); // connection refused, DNS, TLS, reset ...
}
