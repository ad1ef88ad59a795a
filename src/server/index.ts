/** The HTTP service (`saesplade serve`): see docs/SERVICE.md. */
export { buildApp, API_VERSION } from './app.js';
export { startServer, redactorFor, type RunningServer, type StartServerOptions } from './serve.js';
export { loadServerOptions, ServerOptionsSchema, MIN_API_KEY_LENGTH, type ServerOptions } from './options.js';
export { EncoderGate, EncoderBusyError, EncoderGateClosedError, type EncoderGateOptions, type Priority } from './encoder-gate.js';
export { ApiKeys } from './auth.js';
export { createMetrics, observeEncoderGate, observeIngestWorker, observeQueue, gateObservers, type Metrics } from './metrics.js';
export { startMetricsServer, type MetricsServer } from './metrics-server.js';
export { httpAnswer, HttpError, UnavailableError, type ErrorBody } from './errors.js';
export type { ServerContext, ReadinessChecks, CheckResult } from './context.js';
export { startWorkerMetrics, type WorkerMetrics } from './worker-metrics.js';
