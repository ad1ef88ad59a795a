/**
 * Prometheus metrics (prom-client), shared by `saesplade serve` (/metrics) and `saesplade worker
 * --metrics-port`. Names follow the Prometheus conventions: a `saesplade_` prefix, base units
 * (seconds), `_total` on counters, and labels with few values: the route template (never the raw
 * URL), the status code, the mode, the queue state. No label ever carries a query, a key or a URL.
 */
import type { Queue, Worker } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IngestBatchJob, IngestBatchResult } from '../queue/index.js';
import type { EncodeMode, ModelIdentity } from '../encoder/types.js';
import type { EncoderGate } from './encoder-gate.js';

/** Latency buckets, seconds: 2 ms to 30 s. */
const LATENCY_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children'] as const;

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  encodeDuration: Histogram<'mode'>;
  encoderWait: Histogram;
  searchDuration: Histogram<'mode'>;
  opensearchTook: Histogram<'mode'>;
  documents: Counter<'outcome'>;
  documentsReceived: Counter<'outcome'>;
  ingestJobs: Counter<'outcome'>;
  encoderRejected: Counter;
  encoderBatch: Histogram;
}

export interface MetricsOptions {
  /** Process defaults (CPU, memory, event loop lag, GC, handles) under their standard names. Default true. */
  defaults?: boolean;
  model?: ModelIdentity;
  /** `server` or `worker`, as the build_info label `role`. */
  role?: string;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.defaults ?? true) collectDefaultMetrics({ register: registry });
  const m: Metrics = {
    registry,
    httpDuration: new Histogram({
      name: 'saesplade_http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    encodeDuration: new Histogram({
      name: 'saesplade_encode_duration_seconds',
      help: 'Time of one encode call in the encoder (not counting the wait for a thread), by mode (query, document)',
      labelNames: ['mode'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    encoderWait: new Histogram({
      name: 'saesplade_encoder_queue_wait_seconds',
      help: 'Time an encode call waited for a free encoder thread',
      buckets: [0, ...LATENCY_BUCKETS],
      registers: [registry],
    }),
    searchDuration: new Histogram({
      name: 'saesplade_search_duration_seconds',
      help: 'Search time (encode + OpenSearch + shaping the hits) by mode (concepts, bm25, hybrid, rrf)',
      labelNames: ['mode'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    opensearchTook: new Histogram({
      name: 'saesplade_opensearch_took_seconds',
      help: "OpenSearch's own `took` of a search, by mode",
      labelNames: ['mode'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    documents: new Counter({
      name: 'saesplade_documents_total',
      help: 'Documents processed by ingest workers in this process, by outcome (indexed, skipped: unchanged, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    documentsReceived: new Counter({
      name: 'saesplade_documents_received_total',
      help: 'Documents received by POST /v1/documents, by outcome (queued, rejected: invalid at entry)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    ingestJobs: new Counter({
      name: 'saesplade_ingest_jobs_total',
      help: 'Ingest batch jobs finished by workers in this process, by outcome (completed, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    encoderRejected: new Counter({
      name: 'saesplade_encoder_rejected_total',
      help: 'Encode calls refused because every encoder thread was busy and the wait queue was full (answered 503)',
      registers: [registry],
    }),
    encoderBatch: new Histogram({
      name: 'saesplade_encoder_coalesced_calls',
      help: 'Requests served by one encode call (waiting calls of the same mode share a forward pass)',
      buckets: [1, 2, 4, 8, 16],
      registers: [registry],
    }),
  };
  for (const o of ['indexed', 'skipped', 'failed']) m.documents.inc({ outcome: o }, 0);
  for (const o of ['queued', 'rejected']) m.documentsReceived.inc({ outcome: o }, 0);
  for (const o of ['completed', 'failed']) m.ingestJobs.inc({ outcome: o }, 0);
  if (opts.model) {
    const info = new Gauge({
      name: 'saesplade_build_info',
      help: 'Constant 1, labelled with the model this process serves and its role',
      labelNames: ['model', 'model_version', 'role'],
      registers: [registry],
    });
    info.set({ model: opts.model.name, model_version: opts.model.version, role: opts.role ?? 'server' }, 1);
  }
  return m;
}

/** Gauges of an encoder gate: threads, busy threads, waiting calls. */
export function observeEncoderGate(m: Metrics, gate: EncoderGate): void {
  new Gauge({
    name: 'saesplade_encoder_threads',
    help: 'Encoder worker threads',
    registers: [m.registry],
    collect() {
      this.set(gate.opts.concurrency);
    },
  });
  new Gauge({
    name: 'saesplade_encoder_threads_busy',
    help: 'Encoder worker threads running an encode call now',
    registers: [m.registry],
    collect() {
      this.set(gate.busyThreads);
    },
  });
  new Gauge({
    name: 'saesplade_encoder_queue_length',
    help: 'Encode calls waiting for an encoder thread, by priority (foreground: bounded; background: ingest)',
    labelNames: ['priority'],
    registers: [m.registry],
    collect() {
      const w = gate.waiting;
      this.set({ priority: 'foreground' }, w.foreground);
      this.set({ priority: 'background' }, w.background);
    },
  });
}

/** Callbacks for EncoderGateOptions that record encode durations, waits and refusals. */
export function gateObservers(m: Metrics): { onEncoded: (mode: EncodeMode, encodeS: number, waitS: number) => void; onRejected: () => void; onBatch: (calls: number) => void } {
  return {
    onBatch: (calls) => m.encoderBatch.observe(calls),
    onEncoded: (mode, encodeS, waitS) => {
      m.encodeDuration.observe({ mode }, encodeS);
      m.encoderWait.observe(waitS);
    },
    onRejected: () => m.encoderRejected.inc(),
  };
}

/**
 * `saesplade_queue_jobs{queue, state}`: BullMQ job counts, read from Redis at each scrape (bounded by
 * `timeoutMs`; with Redis unreachable the series are absent and `saesplade_queue_up` is 0).
 */
export function observeQueue(m: Metrics, queue: Pick<Queue, 'name' | 'getJobCounts'>, timeoutMs = 1000): void {
  // One read of Redis per scrape, shared by both gauges (prom-client collects them in parallel).
  let last: { at: number; counts?: Record<string, number> } | undefined;
  let reading: Promise<Record<string, number> | undefined> | undefined;
  const read = (): Promise<Record<string, number> | undefined> => {
    if (last && Date.now() - last.at < 250) return Promise.resolve(last.counts);
    reading ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const counts = await Promise.race([
          queue.getJobCounts(...QUEUE_STATES),
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs))),
        ]);
        last = { at: Date.now(), counts };
      } catch {
        last = { at: Date.now() };
      } finally {
        clearTimeout(timer);
        reading = undefined;
      }
      return last.counts;
    })();
    return reading;
  };
  new Gauge({
    name: 'saesplade_queue_jobs',
    help: 'Jobs of the ingest queue by state (waiting, active, delayed, failed, ...), read at scrape time',
    labelNames: ['queue', 'state'],
    registers: [m.registry],
    async collect() {
      const counts = await read();
      this.reset();
      if (counts) for (const s of QUEUE_STATES) this.set({ queue: queue.name, state: s }, counts[s] ?? 0);
    },
  });
  new Gauge({
    name: 'saesplade_queue_up',
    help: '1 when the queue counts could be read from Redis at this scrape, else 0',
    registers: [m.registry],
    async collect() {
      this.set((await read()) ? 1 : 0);
    },
  });
}

/** Counts the documents and jobs an ingest worker (in this process) finishes. */
export function observeIngestWorker(m: Metrics, worker: Pick<Worker<IngestBatchJob, IngestBatchResult>, 'on'>): void {
  worker.on('completed', (_job, r: IngestBatchResult) => {
    m.ingestJobs.inc({ outcome: 'completed' });
    if (!r) return;
    if (r.indexed) m.documents.inc({ outcome: 'indexed' }, r.indexed);
    if (r.skipped) m.documents.inc({ outcome: 'skipped' }, r.skipped);
    if (r.failed) m.documents.inc({ outcome: 'failed' }, r.failed);
  });
  worker.on('failed', (job) => {
    // Only a job's last attempt: retries are not failures yet.
    if (job && job.finishedOn !== undefined) m.ingestJobs.inc({ outcome: 'failed' });
  });
}
