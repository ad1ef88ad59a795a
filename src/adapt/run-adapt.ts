import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../config.js';
import { EXIT_CHECK_FAILED, SaespladeError } from '../errors.js';

/*
 * `saesplade adapt`: the training itself is Python (model/saesplade_model/adapt, torch-free: numpy,
 * onnxruntime, bm25s), installed by scripts/adapt-env.sh into model/.venv-adapt. This module starts it,
 * reads its JSON-lines events (validated here, where they enter) and maps its exit status onto the
 * product's errors. The service (ingest, worker, search) never needs Python.
 */

export const ADAPT_VENV = path.join(PACKAGE_ROOT, 'model', '.venv-adapt');

/** The Python that runs adapt: SAESPLADE_PYTHON, else the venv scripts/adapt-env.sh makes. */
export function adaptPython(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SAESPLADE_PYTHON) return env.SAESPLADE_PYTHON;
  const py = path.join(ADAPT_VENV, 'bin', 'python');
  if (!existsSync(py)) {
    throw new AdaptSetupError(
      `adapt needs its Python tools, which are not installed: run scripts/adapt-env.sh (about 100 MB, one minute; ` +
        `no torch), or set SAESPLADE_PYTHON to a Python that has model/requirements-adapt.txt`,
    );
  }
  return py;
}

export class AdaptSetupError extends SaespladeError {
  override name = 'AdaptSetupError';
}
/** The corpus or the base package cannot be adapted on, or --out holds a package: nothing was trained. */
export class AdaptInputError extends SaespladeError {
  override name = 'AdaptInputError';
}
/** --require-better and the adapted model did not beat its base: nothing written (exit 3). */
export class AdaptNotBetterError extends SaespladeError {
  override name = 'AdaptNotBetterError';
  constructor(message: string) {
    super(message, { exitCode: EXIT_CHECK_FAILED });
  }
}
export class AdaptFailedError extends SaespladeError {
  override name = 'AdaptFailedError';
}

const EvalSchema = z.object({
  teacher_ndcg10: z.number(),
  known_item_mrr10: z.number(),
  nnz_q: z.number(),
  nnz_d: z.number(),
  queries: z.number(),
  pool: z.number(),
  step: z.number(),
});

export const AdaptEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('log'), msg: z.string() }).loose(),
  z
    .object({
      event: z.literal('progress'),
      stage: z.string(),
      done: z.number(),
      total: z.number(),
      unit: z.string(),
      elapsed_s: z.number(),
      eta_s: z.number().nullable(),
    })
    .loose(),
  z
    .object({
      event: z.literal('result'),
      ok: z.boolean(),
      exit_code: z.number(),
      error: z.string().optional(),
      package: z.string().optional(),
      name: z.string().optional(),
      version: z.string().optional(),
      better: z.boolean().optional(),
      held_back: z.object({ base: EvalSchema, adapted: EvalSchema, better: z.boolean(), best_step: z.number() }).optional(),
      seconds: z.number().optional(),
      timings_s: z.record(z.string(), z.number()).optional(),
      peak_rss_mb: z.number().optional(),
    })
    .loose(),
]);
export type AdaptEvent = z.infer<typeof AdaptEventSchema>;
export type AdaptResult = Extract<AdaptEvent, { event: 'result' }>;

export interface AdaptOptions {
  corpus: string;
  out: string;
  from?: string;
  name?: string;
  steps?: number;
  maxDocs?: number;
  heldBack?: number;
  minDocuments?: number;
  threads?: number;
  seed?: number;
  work?: string;
  keepWork?: boolean;
  requireBetter?: boolean;
  queryTable?: boolean;
  force?: boolean;
  onEvent?: (e: AdaptEvent) => void;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export function adaptArgs(o: AdaptOptions): string[] {
  const a = ['-m', 'saesplade_model.adapt', '--events', '--corpus', path.resolve(o.corpus), '--out', path.resolve(o.out)];
  if (o.from) a.push('--from', path.resolve(o.from));
  if (o.name) a.push('--name', o.name);
  if (o.steps !== undefined) a.push('--steps', String(o.steps));
  if (o.maxDocs) a.push('--max-docs', String(o.maxDocs));
  if (o.heldBack !== undefined) a.push('--held-back', String(o.heldBack));
  if (o.minDocuments !== undefined) a.push('--min-documents', String(o.minDocuments));
  if (o.threads !== undefined) a.push('--threads', String(o.threads));
  if (o.seed !== undefined) a.push('--seed', String(o.seed));
  if (o.work) a.push('--work', path.resolve(o.work));
  if (o.keepWork) a.push('--keep-work');
  if (o.requireBetter) a.push('--require-better');
  if (o.queryTable === false) a.push('--no-query-table');
  if (o.force) a.push('--force');
  return a;
}

/** Runs adapt to the end; resolves with its result, or throws the error its exit status means. */
export async function runAdapt(o: AdaptOptions): Promise<AdaptResult> {
  const python = adaptPython(o.env);
  const child = spawn(python, adaptArgs(o), {
    cwd: path.join(PACKAGE_ROOT, 'model'),
    env: { ...process.env, ...o.env, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onAbort = () => child.kill('SIGINT');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let result: AdaptResult | undefined;
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => {
    stderrTail.push(l);
    if (stderrTail.length > 40) stderrTail.shift();
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return; // a library's own print, not an event
    }
    const ev = AdaptEventSchema.safeParse(parsed);
    if (!ev.success) return;
    if (ev.data.event === 'result') result = ev.data;
    o.onEvent?.(ev.data);
  });
  const code: number = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, sig) => resolve(c ?? (sig ? 128 + 2 : 1)));
  });
  o.signal?.removeEventListener('abort', onAbort);
  if (code === 0 && result?.ok) return result;
  const why = result?.error ?? (stderrTail.slice(-12).join('\n') || `exit status ${code}`);
  if (code === 2) throw new AdaptInputError(why);
  if (code === 3) throw new AdaptNotBetterError(why);
  throw new AdaptFailedError(
    `adapt failed (python exit status ${code}); its work folder keeps the checkpoints, and the same command resumes:\n${why}`,
  );
}
