import type { Command } from 'commander';
import { startIngestWorker } from '../ingest/index.js';
import { CommandFailedError, EXIT_INTERRUPTED, EXIT_UNAVAILABLE } from '../errors.js';
import { log } from '../log.js';
import { startWorkerMetrics } from '../server/worker-metrics.js';
import { configFrom, withConfigOptions } from './common.js';
import { RANGES, rangedInt } from './options.js';
import { DEFAULT_LOCK_DURATION_MS, DEFAULT_OUTAGE_PATIENCE_S, DEFAULT_STALLED_INTERVAL_MS, DEFAULT_WORKER_CONCURRENCY } from '../defaults.js';

/** `saesplade worker`: process ingest batch jobs until SIGTERM/SIGINT. */
export function register(program: Command): void {
  withConfigOptions(
    program
      .command('worker')
      .description('run an ingest worker: encode queued batches (document mode) and bulk-index them')
      .addHelpText(
        'after',
        `
Runs until SIGTERM or SIGINT, then finishes the jobs in hand and exits (a second signal exits at
once; jobs it held are picked up again by another worker once their lock expires).`,
      )
      .option('--concurrency <n>', 'batch jobs run at once; encoding takes turns, I/O overlaps it', rangedInt('--concurrency', RANGES.concurrency), DEFAULT_WORKER_CONCURRENCY)
      .option('--batch-size <n>', 'texts per encoder forward pass (default: the encoder default)', rangedInt('--batch-size', RANGES.encoderBatch))
      .option('--threads <n>', 'encoder threads in total (default: all cores)', rangedInt('--threads', RANGES.threads))
      .option('--encoder-workers <n>', 'encoder worker threads (0 = in the main thread)', rangedInt('--encoder-workers', RANGES.encoderWorkers), 1)
      .option('--lock-duration <ms>', `job lock duration, ${RANGES.lockDurationMs[0]} to ${RANGES.lockDurationMs[1]}; a job whose lock expires is redone elsewhere`, rangedInt('--lock-duration', RANGES.lockDurationMs), DEFAULT_LOCK_DURATION_MS)
      .option('--stalled-interval <ms>', 'how often to look for jobs of dead workers', rangedInt('--stalled-interval', RANGES.stalledIntervalMs), DEFAULT_STALLED_INTERVAL_MS)
      .option('--outage-patience <s>', 'seconds to wait for an unavailable OpenSearch (taking no job, spending no attempt) before stopping with exit code 69; its jobs stay queued', rangedInt('--outage-patience', RANGES.outagePatienceS), DEFAULT_OUTAGE_PATIENCE_S)
      .option('--metrics-port <n>', 'serve Prometheus metrics at http://<metrics-host>:<n>/metrics (0: any free port; default: none)', rangedInt('--metrics-port', [0, 65535]))
      .option('--metrics-host <addr>', 'interface of the metrics listener', '127.0.0.1')
      .option('--json', 'print JSON lines on stdout: {"event":"ready"} when ready, {"event":"closed",...} with totals at exit'),
  ).action(async (opts: Record<string, any>) => {
    const config = configFrom(opts);
    const encoderOptions = { batchSize: opts.batchSize, threads: opts.threads, workers: opts.encoderWorkers };
    // With --metrics-port the encoder is created here, measured, and handed to the worker.
    const metrics = opts.metricsPort === undefined ? undefined : await startWorkerMetrics({ config, port: opts.metricsPort, host: opts.metricsHost, encoderOptions, log });
    const handle = await startIngestWorker({
      config,
      concurrency: opts.concurrency,
      encoderOptions,
      ...(metrics ? { encoder: metrics.encoder } : {}),
      lockDuration: opts.lockDuration,
      stalledInterval: opts.stalledInterval,
      outagePatienceMs: opts.outagePatience * 1000,
    }).catch(async (err: unknown) => {
      await metrics?.close();
      throw err;
    });
    metrics?.attach(handle);
    const started = Date.now();
    if (metrics) log.info({ url: `${metrics.server.url}/metrics` }, 'serving metrics');
    log.info({ queue: config.queue, model: `${handle.encoder.model.name}@${handle.encoder.model.version}`, concurrency: opts.concurrency }, 'worker ready');
    if (opts.json) process.stdout.write(JSON.stringify({ event: 'ready', pid: process.pid, queue: config.queue, ...(metrics ? { metricsUrl: `${metrics.server.url}/metrics` } : {}) }) + '\n');

    let gaveUp = false;
    // A second signal rejects this: the CLI's edge then exits 130 at once (src/cli.ts).
    let interrupt: (err: Error) => void = () => {};
    const interrupted = new Promise<never>((_, reject) => (interrupt = reject));
    interrupted.catch(() => {});
    await new Promise<void>((resolve) => {
      // Patience with an unavailable cluster ran out (the gate logged why): close and exit 69.
      handle.fatal.catch(() => {
        gaveUp = true;
        resolve();
      });
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        if (++signals > 1) {
          log.warn({ signal: sig }, 'second signal: exiting now');
          interrupt(new CommandFailedError(`second ${sig}: stopped without finishing the jobs in hand`, { code: 'interrupted', exitCode: EXIT_INTERRUPTED, reported: true }));
          return;
        }
        log.info({ signal: sig }, 'closing: finishing the jobs in hand');
        resolve();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    await Promise.race([handle.close(), interrupted]);
    await Promise.race([metrics?.close(), interrupted]);
    const summary = {
      event: 'closed',
      ...handle.stats(),
      uptimeS: Math.round((Date.now() - started) / 100) / 10,
      /** Peak resident set size of this process, bytes (process.resourceUsage().maxRSS is in KiB). */
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    };
    if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else log.info(summary, 'worker closed');
    if (gaveUp) throw new CommandFailedError('worker: OpenSearch stayed unavailable past --outage-patience', { code: 'outage_patience', exitCode: EXIT_UNAVAILABLE, reported: true });
  });
}
