import { describeNetworkError, EXIT_FAILURE, EXIT_UNAVAILABLE, redactUrl, SaespladeError } from '../errors.js';

/**
 * What the CLI prints for an error that reached it (after `error: `), and its exit code. The
 * product's own errors say what failed, where and what to try, and are printed as they are; the
 * clients' low-level errors (`Response Error`, `connect ECONNREFUSED 127.0.0.1:9200`, `socket hang
 * up`) become one line naming the service, its URL (password redacted) and what failed.
 */
export function describeCliError(err: unknown): string {
  const e = err as { name?: string; message?: string; meta?: any; statusCode?: number; body?: any; code?: string } | undefined;
  const message = e?.message ?? String(err);
  const name = e?.name ?? '';
  if (['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError', 'RequestAbortedError'].includes(name)) {
    return `OpenSearch${where(e?.meta)} is not usable: ${name === 'TimeoutError' ? 'request timed out' : describeNetworkError(err).what}`;
  }
  if (name === 'ResponseError') {
    const status = e?.statusCode ?? e?.meta?.statusCode;
    const cause = e?.body?.error;
    const reason = typeof cause === 'object' && cause ? `${cause.type}: ${cause.reason}` : typeof cause === 'string' ? cause : JSON.stringify(e?.body ?? '').slice(0, 200);
    return `OpenSearch${where(e?.meta)} answered HTTP ${status}: ${reason}`;
  }
  if (isRedisConnectionError(err)) return `Redis is not usable: ${describeNetworkError(err).what}`;
  const net = err as { syscall?: string; address?: string; port?: number };
  if (net?.syscall === 'connect' && net.address) return `cannot connect to ${net.address}${net.port ? ':' + net.port : ''}: ${describeNetworkError(err).what}`;
  return message;
}

/**
 * The one mapping from an error to the CLI's exit code (README, "Exit codes"): a product error
 * (SaespladeError) carries its own; the clients' connection errors are 69 (service unavailable);
 * anything else is 1.
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof SaespladeError) return err.exitCode;
  const name = (err as { name?: string } | undefined)?.name ?? '';
  if (['ServiceUnreachableError', 'OutagePatienceError', 'ConnectionError', 'NoLivingConnectionsError'].includes(name)) return EXIT_UNAVAILABLE;
  if (isRedisConnectionError(err) || (err as { syscall?: string } | undefined)?.syscall === 'connect') return EXIT_UNAVAILABLE;
  return EXIT_FAILURE;
}

/** Whether the CLI prints the error: not when the command has already said why (`reported`). */
export function isReported(err: unknown): boolean {
  return err instanceof SaespladeError && err.reported;
}

function where(meta: any): string {
  const url = meta?.meta?.connection?.url;
  return url ? ` at ${redactUrl(String(url))}` : '';
}

function isRedisConnectionError(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'MaxRetriesPerRequestError';
}
