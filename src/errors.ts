/**
 * Errors the product raises on purpose. Each says what failed, where, and what to try; the CLI prints
 * `message` as is.
 */

export type ServiceName = 'opensearch' | 'redis';

/**
 * The exit codes of the CLI (README, "Exit codes"); src/cli.ts maps an error to one of them with
 * `exitCodeOf` (src/commands/cli-errors.ts), in one place.
 */
/** The command failed or refused: bad input, a wrong name, a refused operation, a missing file. */
export const EXIT_FAILURE = 1;
/** `eval`: the run completed, but a figure is outside its tolerance (the OpenSearch-vs-Python gap, `--check`). */
export const EXIT_CHECK_FAILED = 3;
/**
 * A command stopped because a service is unavailable (BSD sysexits' EX_UNAVAILABLE): OpenSearch or
 * Redis unreachable at start, or a worker whose outage patience ran out. A supervisor can restart on
 * 69 and alert on 1.
 */
export const EXIT_UNAVAILABLE = 69;
/** Stopped at once by a second SIGINT/SIGTERM (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

export interface SaespladeErrorOptions {
  cause?: unknown;
  /** A stable machine-readable name (`config`, `invalid_name`, ...); default: the class name in snake case without `Error`. */
  code?: string;
  /** The CLI's exit code for it; default 1 (EXIT_FAILURE). */
  exitCode?: number;
  /** The command has already said why (a report, a log line): the CLI prints nothing more. */
  reported?: boolean;
}

/**
 * The base of every error the product raises on purpose: a message that says what failed, where and
 * what to try (the CLI prints it as is), a stable `code`, the CLI's `exitCode`, and the `cause`.
 * Check with `instanceof` or `code`, never by message.
 */
export class SaespladeError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly reported: boolean;

  constructor(message: string, options: SaespladeErrorOptions = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = options.code ?? codeOf(new.target.name);
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
    this.reported = options.reported ?? false;
  }
}

/** `InvalidNameError` -> `invalid_name`. */
function codeOf(className: string): string {
  return className
    .replace(/Error$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase() || 'error';
}

/** A command that ran to the end but must exit non-zero (doctor's failed checks, eval's gap out of tolerance). */
export class CommandFailedError extends SaespladeError {}

/** A service (OpenSearch, Redis) that could not be reached or refused us. */
export class ServiceUnreachableError extends SaespladeError {
  readonly service: ServiceName;
  /** The URL that was tried, with any password replaced by `***`. */
  readonly url: string;

  constructor(service: ServiceName, url: string, message: string, options?: { cause?: unknown }) {
    super(message, { ...options, exitCode: EXIT_UNAVAILABLE });
    this.service = service;
    this.url = redactUrl(url);
  }
}

/** The URL with its password (if any) replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/** The passwords in URLs and the credentials an environment holds, for redactText. */
export function secretsOf(env: NodeJS.ProcessEnv = process.env, urls: (string | undefined)[] = []): string[] {
  const out = new Set<string>();
  if (env.OPENSEARCH_PASSWORD) out.add(env.OPENSEARCH_PASSWORD);
  for (const url of [env.REDIS_URL, env.OPENSEARCH_URL, ...urls]) {
    if (!url) continue;
    try {
      const u = new URL(url);
      if (u.password) {
        out.add(u.password);
        try {
          out.add(decodeURIComponent(u.password));
        } catch {
          /* not valid percent-encoding: the raw form is enough */
        }
      }
    } catch {
      const m = /\/\/[^:/@]*:([^@/]+)@/.exec(url);
      if (m) out.add(m[1]!);
    }
  }
  return [...out].filter((s) => s.length > 0).sort((x, y) => y.length - x.length);
}

/** `text` with every URL's password and every given secret replaced by `***`. */
export function redactText(text: string, secrets: string[] = []): string {
  let out = text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, (url) => redactUrl(url));
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

/**
 * Command-line arguments fit to print or write into a report: URL passwords (`--redis-url
 * redis://:pw@host`, `--opensearch-url=https://u:pw@host`) and the values of OPENSEARCH_PASSWORD and
 * of the passwords in REDIS_URL / OPENSEARCH_URL are replaced by `***`.
 */
export function redactArgs(args: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const secrets = secretsOf(env, args.map((a) => a.replace(/^--[\w-]+=/, '')));
  return args.map((a) => redactText(a, secrets));
}

/** A short name for a low-level network/TLS failure (`ECONNREFUSED`, `TLS: self-signed certificate`, ...). */
export function describeNetworkError(err: unknown): { what: string; hint?: string } {
  const e = err as { code?: string; message?: string } | undefined;
  const msg = e?.message ?? String(err);
  const code = e?.code ?? /\b(E[A-Z]{3,}(?:_[A-Z]+)*)\b/.exec(msg)?.[1];
  if (/certificate|self[- ]signed|unable to verify|CERT_|DEPTH_ZERO|Hostname\/IP does not match/i.test(msg) || code?.startsWith('CERT_') || code?.startsWith('ERR_TLS')) {
    return { what: `TLS error (${msg})`, hint: 'give the CA certificate (OPENSEARCH_CA_CERT=/path/ca.pem), or for a development cluster only OPENSEARCH_INSECURE=1' };
  }
  if (/wrong version number|EPROTO|packet length too long/i.test(msg)) {
    const reason = /wrong version number|packet length too long/i.exec(msg)?.[0] ?? code ?? 'EPROTO';
    return { what: `TLS handshake failed (${reason})`, hint: 'the server probably speaks plain HTTP: use http:// instead of https://' };
  }
  switch (code) {
    case 'ECONNREFUSED':
      return { what: 'connection refused (ECONNREFUSED): nothing listens on that port' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { what: `host name not found (${code})` };
    case 'ETIMEDOUT':
      return { what: 'connection timed out (ETIMEDOUT)' };
    case 'ECONNRESET':
    case 'EPIPE':
      return { what: `connection reset by the server (${code})`, hint: 'check that the port is the right service; if it uses TLS, use https:// (or rediss://)' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { what: `network unreachable (${code})` };
    default:
      if (/timeout|timed out/i.test(msg)) return { what: `timed out (${msg})` };
      if (/socket hang up/i.test(msg)) return { what: 'the server closed the connection (socket hang up)', hint: 'check that the port is the right service; if it uses TLS, use https://' };
      return { what: msg };
  }
}
