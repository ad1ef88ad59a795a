/**
 * Set-up shared by the server integration tests: a real server (startServer, listening on a free
 * port of 127.0.0.1) over the real services and the real default model, with its own index, queue
 * and keys; requests go over real HTTP (fetch).
 */
import net from 'node:net';
import type { Config } from '../../src/config.js';
import { loadServerOptions, type ServerOptions } from '../../src/server/options.js';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/server/serve.js';
import { createLogger } from '../../src/log.js';

export const API_KEY = 'test-key-' + 'x'.repeat(24);

export function serverOptions(over: Partial<Record<keyof ServerOptions, unknown>> = {}): ServerOptions {
  return loadServerOptions({ port: 0, apiKeys: [API_KEY], encoderWorkers: 1, encoderThreads: 1, ...over }, {});
}

export async function startTestServer(config: Config, over: Partial<Record<keyof ServerOptions, unknown>> = {}, extra: Partial<StartServerOptions> = {}): Promise<RunningServer> {
  return startServer({ config, options: serverOptions(over), log: createLogger('warn'), ...extra });
}

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** One HTTP request; the body is parsed as JSON when it is JSON. */
export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  opts: { json?: unknown; body?: string | Buffer; type?: string; key?: string | false; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key !== false && opts.key !== undefined) headers.authorization = `Bearer ${opts.key}`;
  let body: string | Buffer | undefined;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] = 'application/json';
  } else if (opts.body !== undefined) {
    body = opts.body;
    headers['content-type'] = opts.type ?? 'application/x-ndjson';
  }
  const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** A TCP port with nothing listening on it (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Polls GET /v1/jobs/:id until the set is done. */
export async function waitForSet(base: string, setId: string, timeoutMs = 180_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(base, 'GET', `/v1/jobs/${setId}`, { key: API_KEY });
    if (r.status !== 200) throw new Error(`GET /v1/jobs/${setId}: ${r.status} ${r.text}`);
    if (r.body.done) return r.body;
    if (Date.now() > until) throw new Error(`job set ${setId} not done after ${timeoutMs} ms: ${r.text}`);
    await new Promise((res) => setTimeout(res, 300));
  }
}

/**
 * Sum of the samples of `name` in a Prometheus text exposition whose labels include `labels`
 * (undefined when there is no such sample).
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}
