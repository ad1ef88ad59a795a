import { SaespladeError } from '../errors.js';
/**
 * Errors that decide what happens to an ingest job. A processor throws a `TransientIngestError`
 * to let BullMQ retry the job with exponential back-off (cluster busy, connection lost), and a
 * `PermanentIngestError` when retrying cannot help (model mismatch, index refuses the request);
 * the job processor turns the latter into BullMQ's `UnrecoverableError` so no attempts are wasted.
 * Check with `instanceof`, never by message.
 */
export class IngestError extends SaespladeError {
  constructor(
    message: string,
    readonly meta: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Retrying later may succeed: 429/5xx from OpenSearch, connection or timeout errors. */
export class TransientIngestError extends IngestError {}

/** Retrying cannot succeed: record the documents as failed and stop. */
export class PermanentIngestError extends IngestError {}

/** 4xx statuses that mean "busy or too slow", not "bad request": retried like any 5xx. */
const RETRYABLE_4XX = new Set([408, 429]);

/**
 * The one retry rule for an HTTP status from OpenSearch, whether it answers a whole request or one
 * bulk item (docs/INGEST.md, "Job fate"): 408, 429 and every 5xx may succeed later and are retried
 * with the job's attempts; any other 4xx is the request's (or the document's) own fault.
 */
export function isRetryableStatus(status: number | undefined): boolean {
  return status !== undefined && (RETRYABLE_4XX.has(status) || (status >= 500 && status <= 599));
}

/**
 * Maps an error from OpenSearch, Redis or the encoder to a transient or permanent ingest error.
 * OpenSearch client errors are told apart by `name` (the client's own classes): connection and
 * timeout errors are transient, a response error is transient for 408, 429 and any 5xx (isRetryableStatus).
 * A TypeError, RangeError, ReferenceError or SyntaxError is deterministic (the same input fails the
 * same way), so it is permanent: retrying it five times would only hide a bug or a bad document.
 * Other unknown errors are treated as transient: BullMQ's bounded attempts cap the cost of being wrong.
 */
export function classifyError(err: unknown): IngestError {
  if (err instanceof IngestError) return err;
  const e = err as { name?: string; message?: string; meta?: { statusCode?: number }; statusCode?: number; body?: any };
  const message = e?.message ?? String(err);
  const name = e?.name ?? '';
  if (['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError', 'RequestAbortedError'].includes(name)) {
    return new TransientIngestError(`${name}: ${message}`, {}, { cause: err });
  }
  if (name === 'ResponseError') {
    const status = e.statusCode ?? e.meta?.statusCode;
    const reason = e.body?.error?.reason ?? message;
    if (isRetryableStatus(status)) return new TransientIngestError(`OpenSearch ${status}: ${reason}`, { status }, { cause: err });
    return new PermanentIngestError(`OpenSearch ${status}: ${reason}`, { status }, { cause: err });
  }
  if (name === 'IndexModelMismatchError') return new PermanentIngestError(message, { code: 'model_mismatch' }, { cause: err });
  if (name === 'ModelPackageError' || name === 'ConfigError' || name === 'ConfigurationError') {
    return new PermanentIngestError(message, {}, { cause: err });
  }
  if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError) {
    return new PermanentIngestError(`${name}: ${message}`, {}, { cause: err });
  }
  return new TransientIngestError(message, {}, { cause: err });
}
