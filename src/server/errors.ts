/**
 * Errors → HTTP answers. One JSON shape for every error: `{ error, message, field?, reason? }`;
 * 400 names the field and the reason, 503 comes with Retry-After. Messages pass through the
 * server's redaction (URL passwords, configured credentials and API keys become `***`), and a 500
 * says only that the error was logged.
 */
import { errors as osErrors } from '@opensearch-project/opensearch';
import { SaespladeError, ServiceUnreachableError } from '../errors.js';
import { IndexModelMismatchError } from '../opensearch/indexes.js';
import { isRedisConnectionError } from '../redis.js';
import { SearchError } from '../search/search.js';
import { EncoderUnavailableError } from '../encoder/pool.js';
import { EncoderBusyError, EncoderGateClosedError } from './encoder-gate.js';

export interface ErrorBody {
  /** Stable code: invalid_request, unauthorized, not_found, body_too_large, encoder_busy, ... */
  error: string;
  message: string;
  /** The input at fault (`size`, `pruning.topK`, `filter[0]`, `query`, `index`, `id`) for 400s. */
  field?: string;
  /** Why that input is refused. */
  reason?: string;
}

/** An error that already knows its HTTP answer; `code` is the answer's `error` (invalid_request, not_found, ...). */
export class HttpError extends SaespladeError {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    code: string,
    message: string,
    readonly extra: { field?: string; reason?: string; headers?: Record<string, string> } = {},
  ) {
    super(message, { code });
  }
}

/** A service this request needs did not answer in time or at all. */
export class UnavailableError extends HttpError {
  constructor(message: string, retryAfterS = 5) {
    super(503, 'service_unavailable', message, { headers: { 'retry-after': String(retryAfterS) } });
  }
}

/** Races a promise against a deadline; the deadline rejects with UnavailableError(`what`). */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new UnavailableError(`${what} did not answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export interface HttpAnswer {
  statusCode: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** Unexpected: log it with its stack. */
  unexpected?: boolean;
}

interface ValidationItem {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** `/pruning/topK` → `pruning.topK`, `/filter/0` → `filter[0]`. */
export function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (extra) parts.push(extra);
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function validationAnswer(err: { validation: ValidationItem[]; validationContext?: string }): HttpAnswer {
  const items = err.validation;
  // Prefer the most specific problem: anyOf/oneOf wrappers say little ("must match a schema in anyOf").
  // the deepest path is the most specific (in an anyOf, the branch that got furthest).
  const specific = items.filter((v) => v.keyword !== 'anyOf' && v.keyword !== 'oneOf');
  const depth = (v: ValidationItem) => (v.instancePath ?? '').split('/').length;
  const item = specific.reduce<ValidationItem | undefined>((best, v) => (!best || depth(v) > depth(best) ? v : best), undefined) ?? items[0] ?? {};
  const where = err.validationContext ?? 'body';
  const missing = item.keyword === 'required' ? String(item.params?.missingProperty ?? '') : undefined;
  const extraProp = item.keyword === 'additionalProperties' ? String(item.params?.additionalProperty ?? '') : undefined;
  const field = fieldPath(item.instancePath ?? '', missing || extraProp) || (where === 'body' ? '(body)' : where);
  let reason = item.message ?? 'is invalid';
  if (missing) reason = 'is required';
  else if (extraProp) reason = 'is not a known field';
  else if (item.keyword === 'enum' && Array.isArray(item.params?.allowedValues)) reason = `must be one of ${(item.params!.allowedValues as unknown[]).join(', ')}`;
  return {
    statusCode: 400,
    body: { error: 'invalid_request', message: `${where === 'body' ? '' : where + ' '}${field} ${reason}`.trim(), field, reason },
    headers: {},
  };
}

/**
 * The HTTP answer for any error a route or Fastify raised. `redact` removes secrets from messages.
 */
export function httpAnswer(err: unknown, redact: (s: string) => string = (s) => s): HttpAnswer {
  const e = err as Error & { statusCode?: number; code?: string; validation?: ValidationItem[]; validationContext?: string };
  const msg = () => redact(e?.message ?? String(err));
  if (e?.validation) return validationAnswer(e as { validation: ValidationItem[]; validationContext?: string });
  if (err instanceof HttpError) {
    const body: ErrorBody = { error: err.code, message: msg() };
    if (err.extra.field) body.field = err.extra.field;
    if (err.extra.reason) body.reason = redact(err.extra.reason);
    return { statusCode: err.statusCode, body, headers: err.extra.headers ?? {} };
  }
  if (err instanceof EncoderBusyError) {
    return { statusCode: 503, body: { error: 'encoder_busy', message: msg() }, headers: { 'retry-after': String(err.retryAfterS) } };
  }
  if (err instanceof EncoderUnavailableError) {
    return { statusCode: 503, body: { error: 'encoder_unavailable', message: msg() }, headers: { 'retry-after': '30' } };
  }
  if (err instanceof EncoderGateClosedError) {
    return { statusCode: 503, body: { error: 'shutting_down', message: msg() }, headers: { 'retry-after': '1' } };
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { statusCode: 413, body: { error: 'body_too_large', message: 'the request body is larger than this route accepts (see the server\'s body limits)' }, headers: {} };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { statusCode: 415, body: { error: 'unsupported_media_type', message: msg() }, headers: {} };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { statusCode: 400, body: { error: 'invalid_request', message: 'the body is empty', field: '(body)', reason: 'is empty' }, headers: {} };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { statusCode: 400, body: { error: 'invalid_request', message: msg(), field: '(body)', reason: 'is not valid JSON' }, headers: {} };
  }
  if (e?.name === 'SyntaxError' && e.statusCode === 400) {
    return { statusCode: 400, body: { error: 'invalid_request', message: `the body is not valid JSON: ${msg()}`, field: '(body)', reason: 'is not valid JSON' }, headers: {} };
  }
  if (err instanceof IndexModelMismatchError) {
    return { statusCode: 409, body: { error: 'model_mismatch', message: msg() }, headers: {} };
  }
  if (err instanceof SearchError) {
    if (err.field) return { statusCode: 400, body: { error: 'invalid_request', message: msg(), field: err.field, reason: msg() }, headers: {} };
    if (err.statusCode === 404) return { statusCode: 404, body: { error: 'index_not_found', message: msg() }, headers: {} };
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 429) {
      return { statusCode: 400, body: { error: 'search_rejected', message: msg() }, headers: {} };
    }
    return { statusCode: 503, body: { error: 'opensearch_unavailable', message: msg() }, headers: { 'retry-after': '5' } };
  }
  if (err instanceof osErrors.ResponseError) {
    const status = err.statusCode ?? 500;
    const type = (err.body as { error?: { type?: string } } | undefined)?.error?.type;
    if (status === 404 || type === 'index_not_found_exception') return { statusCode: 404, body: { error: 'index_not_found', message: msg() }, headers: {} };
    if (status >= 500 || status === 429) return { statusCode: 503, body: { error: 'opensearch_unavailable', message: msg() }, headers: { 'retry-after': '5' } };
    return { statusCode: 502, body: { error: 'opensearch_error', message: msg() }, headers: {} };
  }
  if (err instanceof osErrors.ConnectionError || err instanceof osErrors.TimeoutError || err instanceof osErrors.NoLivingConnectionsError) {
    return { statusCode: 503, body: { error: 'opensearch_unavailable', message: `OpenSearch did not answer: ${msg()}` }, headers: { 'retry-after': '5' } };
  }
  if (err instanceof ServiceUnreachableError) {
    return { statusCode: 503, body: { error: `${err.service}_unavailable`, message: msg() }, headers: { 'retry-after': '5' } };
  }
  if (isRedisConnectionError(err)) {
    return { statusCode: 503, body: { error: 'redis_unavailable', message: `Redis did not answer: ${msg()}` }, headers: { 'retry-after': '5' } };
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { statusCode: e.statusCode, body: { error: e.code ? e.code.toLowerCase() : 'bad_request', message: msg() }, headers: {} };
  }
  return { statusCode: 500, body: { error: 'internal', message: 'internal error (logged on the server)' }, headers: {}, unexpected: true };
}
