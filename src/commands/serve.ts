import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { loadServerOptions } from '../server/options.js';
import { startServer } from '../server/serve.js';
import * as benchServe from './bench-serve.js';
import { configFrom, withConfigOptions } from './common.js';
import { listOption } from './query-options.js';

/** `saesplade serve` (the HTTP API, metrics, queue dashboard and concept explorer: docs/SERVICE.md), and `bench serve` with it. */
export function register(program: Command): void {
  benchServe.register(program);
  withConfigOptions(
    program
      .command('serve')
      .description('run the HTTP service: /v1 search, encode and documents API, /docs, /metrics, /admin/queues, the concept explorer at /')
      .addHelpText(
        'after',
        `
Binds to 127.0.0.1:8080 unless told otherwise. Write and admin routes (/v1/documents, /v1/jobs,
/admin) need an API key (Authorization: Bearer <key>), from SAESPLADE_API_KEYS (comma-separated) or
a file (--api-keys-file, SAESPLADE_API_KEYS_FILE; one key a line, at least 16 characters). Keys are
never taken as a flag. Runs until SIGTERM/SIGINT, then stops accepting, lets requests in flight
finish and closes the encoder and the clients. Every flag has an environment variable: docs/SERVICE.md.`,
      )
      .option('--host <addr>', 'interface to listen on (env SAESPLADE_HOST, default 127.0.0.1)')
      .option('--port <n>', 'port (env SAESPLADE_PORT, default 8080; 0: any free port)')
      .option('--api-keys-file <file>', 'file of API keys, one a line (env SAESPLADE_API_KEYS_FILE)')
      .option('--search-auth', 'require an API key for /v1/search and /v1/encode too (env SAESPLADE_SEARCH_AUTH)')
      .option('--body-limit <bytes>', 'largest request body (413 above; env SAESPLADE_BODY_LIMIT, default 1048576)')
      .option('--documents-body-limit <bytes>', 'largest /v1/documents body (env SAESPLADE_DOCUMENTS_BODY_LIMIT, default 67108864)')
      .option('--encoder-workers <n>', 'encoder worker threads (env SAESPLADE_ENCODER_WORKERS, default 2)')
      .option('--threads <n>', 'onnxruntime threads in total, shared by the workers (env SAESPLADE_ENCODER_THREADS, default: all cores)')
      .option('--encoder-queue <n>', 'encode calls that may wait for a thread before 503 + Retry-After (env SAESPLADE_ENCODER_QUEUE, default 64)')
      .option('--cors-origin <list>', 'origins allowed by CORS, comma-separated, * for any (env SAESPLADE_CORS_ORIGINS; default: CORS off)', listOption)
      .option('--max-waiting-jobs <n>', 'POST /v1/documents answers 503 while more batch jobs wait (env SAESPLADE_MAX_WAITING_JOBS, default 1000; 0: no limit)')
      .option('--with-worker [concurrency]', 'also run an ingest worker in this process (default concurrency 1), encoding behind searches')
      .option('--shutdown-grace <s>', 'seconds requests in flight get on SIGTERM (env SAESPLADE_SHUTDOWN_GRACE, default 30)')
      .option('--compat-port <n>', 'also serve the OpenSearch-compatible endpoint on this port (docs/COMPAT.md; env SAESPLADE_COMPAT_PORT; default: off)')
      .option('--compat-text-fields <list>', 'fields the compatible endpoint encodes, first = title (env SAESPLADE_COMPAT_TEXT_FIELDS, default title,text)', listOption)
      .option('--compat-body-limit <bytes>', 'largest body the compatible endpoint reads (env SAESPLADE_COMPAT_BODY_LIMIT, default 104857600)')
      .option('--json', 'print JSON lines on stdout: {"event":"ready","url":...} when listening, {"event":"closed"} at exit'),
  ).action(async (opts: Record<string, any>) => {
    const config = configFrom(opts);
    const options = loadServerOptions({
      host: opts.host,
      port: opts.port,
      apiKeysFile: opts.apiKeysFile,
      searchAuth: opts.searchAuth,
      bodyLimit: opts.bodyLimit,
      documentsBodyLimit: opts.documentsBodyLimit,
      encoderWorkers: opts.encoderWorkers,
      encoderThreads: opts.threads,
      encoderQueue: opts.encoderQueue,
      corsOrigins: opts.corsOrigin,
      maxWaitingJobs: opts.maxWaitingJobs,
      withWorker: opts.withWorker === undefined ? undefined : opts.withWorker === true ? 1 : opts.withWorker,
      shutdownGraceS: opts.shutdownGrace,
      compatPort: opts.compatPort,
      compatTextFields: opts.compatTextFields,
      compatBodyLimit: opts.compatBodyLimit,
    });
    const log = createLogger(config.logLevel);
    const server = await startServer({ config, options, log });
    log.info(
      { url: server.url, index: config.index, queue: config.queue, model: `${server.ctx.model.name}@${server.ctx.model.version}`, encoderThreads: server.ctx.gate.opts.concurrency, encoderQueue: options.encoderQueue, inProcessWorker: options.withWorker },
      `listening on ${server.url} (explorer ${server.url}/, API docs ${server.url}/docs)`,
    );
    if (server.compatUrl) log.info({ url: server.compatUrl, upstream: server.ctx.redact(config.opensearchUrl) }, `OpenSearch-compatible endpoint on ${server.compatUrl} (point an OpenSearch client here)`);
    if (opts.json) process.stdout.write(JSON.stringify({ event: 'ready', pid: process.pid, url: server.url, ...(server.compatUrl ? { compatUrl: server.compatUrl } : {}) }) + '\n');
    await new Promise<void>((resolve) => {
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        if (++signals > 1) {
          log.warn({ signal: sig }, 'second signal: exiting now');
          process.exit(130);
        }
        log.info({ signal: sig }, 'closing: no new requests, finishing the ones in flight');
        resolve();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    await server.close();
    const summary = { event: 'closed', maxRssBytes: process.resourceUsage().maxRSS * 1024 };
    if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else log.info(summary, 'server closed');
  });
}
