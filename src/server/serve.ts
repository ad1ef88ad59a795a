/**
 * `saesplade serve`: builds the server's context (encoder worker threads behind the gate, the
 * OpenSearch client, the queue and job-set store on Redis, metrics), listens, and shuts down
 * gracefully: stop accepting, let the requests in flight finish (up to the grace period), stop the
 * in-process worker if any, then close the encoder and the clients.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createEncoder, WorkerPoolEncoder } from '../encoder/index.js';
import type { Encoder } from '../encoder/types.js';
import { redactText, secretsOf } from '../errors.js';
import { modelIdentity } from '../ingest/run-ingest.js';
import { startIngestWorker, type IngestWorkerHandle } from '../ingest/worker.js';
import { createLogger } from '../log.js';
import { checkOpenSearch, createOpenSearchClient } from '../opensearch/client.js';
import { createIngestQueue, JobSetStore } from '../queue/index.js';
import { checkRedis, createRedis } from '../redis.js';
import { buildApp } from './app.js';
import { buildCompatApp } from './compat/app.js';
import { ApiKeys } from './auth.js';
import type { ReadinessChecks, ServerContext } from './context.js';
import { EncoderGate } from './encoder-gate.js';
import { createMetrics, gateObservers, observeEncoderGate, observeIngestWorker, observeQueue } from './metrics.js';
import type { ServerOptions } from './options.js';

export interface StartServerOptions {
  config: Config;
  options: ServerOptions;
  log?: Logger;
  /** Use this encoder instead of creating the worker-thread pool (the server then does not close it). */
  encoder?: Encoder;
  /** Replace readiness checks (tests). */
  checks?: Partial<ReadinessChecks>;
}

export interface RunningServer {
  app: FastifyInstance;
  ctx: ServerContext;
  /** `http://host:port` it listens on. */
  url: string;
  port: number;
  worker?: IngestWorkerHandle;
  /** The OpenSearch-compatible endpoint, when `compatPort` is set. */
  compat?: FastifyInstance;
  compatUrl?: string;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

/** Text with URL passwords, the configured credentials and the API keys replaced by `***`. */
export function redactorFor(config: Config, apiKeys: readonly string[], env: NodeJS.ProcessEnv = process.env): (text: string) => string {
  const secrets = new Set(secretsOf(env, [config.redisUrl, config.opensearchUrl]));
  if (config.opensearchPassword) secrets.add(config.opensearchPassword);
  for (const k of apiKeys) secrets.add(k);
  const list = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (text) => redactText(text, list);
}

export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { config, options } = opts;
  const log = opts.log ?? createLogger(config.logLevel);
  const model = modelIdentity(config.modelDir);
  const ownEncoder = opts.encoder === undefined;
  const encoder =
    opts.encoder ??
    (await createEncoder({
      modelDir: config.modelDir,
      device: config.device,
      workers: options.encoderWorkers,
      ...(options.encoderThreads !== undefined ? { threads: options.encoderThreads } : {}),
      log,
    }));
  const metrics = createMetrics({ model, role: 'server' });
  const gate = new EncoderGate(encoder, {
    concurrency: encoder instanceof WorkerPoolEncoder ? Math.max(1, encoder.workers) : options.encoderWorkers,
    maxQueue: options.encoderQueue,
    textsPerThread: 8,
    ...gateObservers(metrics),
  });
  observeEncoderGate(metrics, gate);

  const client = createOpenSearchClient(config);
  const redis = createRedis(config);
  const queue = createIngestQueue(config.queue, redis);
  const store = new JobSetStore(redis);
  observeQueue(metrics, queue);
  const apiKeys = new ApiKeys(options.apiKeys);
  const redact = redactorFor(config, options.apiKeys);

  const checks: ReadinessChecks = {
    opensearch: async () => {
      const t0 = performance.now();
      const info = await checkOpenSearch(client, config.opensearchUrl, 3000);
      return { ok: true, ms: Math.round(performance.now() - t0), version: `${info.distribution} ${info.version}` };
    },
    redis: async () => {
      const t0 = performance.now();
      const info = await checkRedis(config, 3000);
      return { ok: true, ms: Math.round(performance.now() - t0), version: info.version };
    },
    model: async () => {
      const t0 = performance.now();
      const name = `${model.name}@${model.version}`;
      if (encoder instanceof WorkerPoolEncoder && encoder.workers === 0) throw new Error('no encoder worker thread is running');
      // An encode that succeeded lately is the answer; otherwise ask the model (behind any waiting search).
      if (gate.lastSuccessAt === undefined || Date.now() - gate.lastSuccessAt > 30_000) await gate.encode(['readiness probe'], 'query', undefined, 'background');
      return { ok: true, ms: Math.round(performance.now() - t0), model: name };
    },
    ...opts.checks,
  };

  const ctx: ServerContext = { config, options, client, redis, queue, store, gate, encoder: gate.encoder('foreground'), model, metrics, apiKeys, redact, log, checks };

  let worker: IngestWorkerHandle | undefined;
  let app: FastifyInstance | undefined;
  let compat: FastifyInstance | undefined;
  const release = async () => {
    gate.close();
    // With Redis unreachable a graceful QUIT would wait for a reconnection: bounded, then cut.
    const closeRedis = async () => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, 3000)));
      await Promise.race([queue.close().then(() => redis.quit()), late]).catch(() => undefined);
      clearTimeout(timer);
      redis.disconnect();
    };
    await Promise.allSettled([ownEncoder ? encoder.close() : Promise.resolve(), closeRedis(), client.close()]);
  };
  try {
    if (options.withWorker > 0) {
      // The in-process worker encodes through the same threads, behind searches (background priority).
      worker = await startIngestWorker({ config, client, encoder: gate.encoder('background'), concurrency: options.withWorker, log });
      observeIngestWorker(metrics, worker.worker);
    } else {
      // Start anyway when a service is down (readiness says so), but say it once now.
      await Promise.all([
        checkOpenSearch(client, config.opensearchUrl, 3000).catch((e: Error) => log.warn(redact(e.message))),
        checkRedis(config, 3000).catch((e: Error) => log.warn(redact(e.message))),
      ]);
    }
    app = await buildApp(ctx);
    await app.listen({ host: options.host, port: options.port });
    if (options.compatPort !== undefined) {
      compat = await buildCompatApp(ctx, { textFields: options.compatTextFields, bodyLimit: options.compatBodyLimit });
      await compat.listen({ host: options.host, port: options.compatPort });
    }
  } catch (err) {
    await compat?.close().catch(() => {});
    await app?.close().catch(() => {});
    await worker?.close().catch(() => {});
    await release();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;
  const compatAddr = compat?.server.address();
  const compatUrl = compat && typeof compatAddr === 'object' && compatAddr ? `http://${host}:${compatAddr.port}` : undefined;
  if (options.apiKeys.length === 0) log.warn('no API key configured (SAESPLADE_API_KEYS): /v1/documents, /v1/jobs and /admin answer 401');

  let closing: Promise<void> | undefined;
  const running: RunningServer = {
    app,
    ctx,
    url,
    port,
    ...(worker ? { worker } : {}),
    ...(compat && compatUrl ? { compat, compatUrl } : {}),
    close() {
      closing ??= (async () => {
        const grace = setTimeout(() => {
          log.warn({ graceS: options.shutdownGraceS }, 'requests still in flight after the grace period: closing their connections');
          app!.server.closeAllConnections();
          compat?.server.closeAllConnections();
        }, options.shutdownGraceS * 1000);
        try {
          await Promise.all([app!.close(), compat?.close()]);
        } finally {
          clearTimeout(grace);
        }
        await worker?.close();
        await release();
      })();
      return closing;
    },
  };
  return running;
}
