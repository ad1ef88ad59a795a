import { InvalidArgumentError } from 'commander';
import { indexNameProblem, INDEX_NAME_RULE } from '../names.js';

/**
 * The one set of option parsers for numbers and names. Every numeric option has a range, and the
 * message names the option, the range and what was given:
 * `--encoder-workers must be an integer from 0 to 64, got "abc"`. Only plain decimal text is a
 * number (`Number()` would read "" as 0, "0x10" as 16 and "abc" as NaN).
 */

/** The largest value a Java `int` holds: OpenSearch's bound for sizes and counts with no tighter one. */
export const JAVA_INT_MAX = 2 ** 31 - 1;

const INT = /^[+-]?\d+$/;
const NUM = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function rangeText(kind: string, min: number, max: number): string {
  if (max === Infinity || max === Number.MAX_SAFE_INTEGER) return `${kind} >= ${min}`;
  return `${kind} from ${min} to ${max}`;
}

/** Parser of an integer option in [min, max]. */
export function intOption(flag: string, min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const s = String(v).trim();
    const n = INT.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be ${rangeText('an integer', min, max)}, got "${v}"`);
    return n;
  };
}

/** Parser of a number option in [min, max]. */
export function numberOption(flag: string, min: number, max = Infinity) {
  return (v: string): number => {
    const s = String(v).trim();
    const n = NUM.test(s) ? Number(s) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be ${rangeText('a number', min, max)}, got "${v}"`);
    return n;
  };
}

/** Parser of a comma-separated list of integers, each in [min, max]. */
export function intListOption(flag: string, min: number, max: number = Number.MAX_SAFE_INTEGER) {
  const one = intOption(flag, min, max);
  return (v: string): number[] => v.split(',').map((x) => one(x.trim()));
}

/** Parser of an option naming one index or alias (OpenSearch's name rules, src/names.ts). */
export function indexNameOption(flag: string) {
  return (v: string): string => {
    const problem = indexNameProblem(v);
    if (problem) throw new InvalidArgumentError(`${flag}: ${JSON.stringify(v)} is not a valid index or alias name (${problem}); ${INDEX_NAME_RULE}`);
    return v;
  };
}

/** Ranges shared by several commands. */
export const RANGES = {
  /** Batch jobs (or pages) a worker runs at once. */
  concurrency: [1, 256],
  /** Documents per ingest batch job. */
  jobBatch: [1, 1000],
  /** Texts per encoder forward pass. */
  encoderBatch: [1, 1024],
  /** onnxruntime threads. */
  threads: [1, 256],
  /** Encoder worker threads (0 = in the main thread). */
  encoderWorkers: [0, 64],
  /** A single document: up to OpenSearch's default http.max_content_length (100 MiB). */
  docBytes: [1, 100 * 1024 * 1024],
  /**
   * Job lock: BullMQ renews it every lockDuration/2, so below 3 s a busy moment of the event loop
   * (GC, a large bulk response) misses a renewal and the job is taken away and redone; above a day
   * a dead worker's job waits that long. The crash tests run at 3000 ms.
   */
  lockDurationMs: [3000, 86_400_000],
  /** How often a worker looks for the jobs of dead workers. */
  stalledIntervalMs: [1000, 86_400_000],
  /** Seconds a worker waits for an unavailable OpenSearch before it stops (jobs stay queued). */
  outagePatienceS: [1, 86_400],
  /** Seconds `ingest --wait` waits with no counter moving before it gives up (0: forever). */
  stallTimeoutS: [0, 604_800],
} as const satisfies Record<string, readonly [number, number]>;

/** `intOption` with one of RANGES. */
export function rangedInt(flag: string, range: readonly [number, number]) {
  return intOption(flag, range[0], range[1]);
}
