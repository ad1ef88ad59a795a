import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { createEncoder } from '../encoder/index.js';
import type { EncodeMode, LongTextMode } from '../encoder/types.js';
import { createLogger } from '../log.js';
import { describeCpu, machineInfo } from '../machine.js';
import { benchGroup } from './bench.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { intListOption, intOption, RANGES } from './options.js';

/** Reads up to `limit` texts from a JSONL corpus: BEIR (`title` + `text`) or any object with `text` (or a JSON string per line). */
export async function readCorpusTexts(file: string, limit: number): Promise<string[]> {
  const out: string[] = [];
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  for await (const l of rl) {
    line++;
    if (!l.trim()) continue;
    let o: unknown;
    try {
      o = JSON.parse(l);
    } catch (e) {
      rl.close();
      throw new Error(`${file}:${line}: not JSON: ${(e as Error).message}`);
    }
    if (typeof o === 'string') out.push(o);
    else if (o && typeof o === 'object') {
      const r = o as Record<string, unknown>;
      const text = [r.title, r.text].filter((x) => typeof x === 'string' && x.length > 0).join('\n');
      if (!text) {
        rl.close();
        throw new Error(`${file}:${line}: no "text" (or "title") field`);
      }
      out.push(text);
    }
    if (out.length >= limit) break;
  }
  rl.close();
  return out;
}


export interface EncoderBenchRow {
  workers: number;
  threads: number;
  batchSize: number;
  texts: number;
  tokens: number;
  seconds: number;
  textsPerSec: number;
  tokensPerSec: number;
  truncated: number;
  rssMB: number;
  ratio: number;
}

export function register(program: Command): void {
  withConfigOptions(
    benchGroup(program)
      .command('encoder')
      .description(
        'throughput of the raw encoder (tokenize + forward + pool + prune) per setting, after a warm-up;\n' +
          'each setting encodes the same texts in one encode() call; ratio = texts/s over the first setting',
      ),
  )
    .requiredOption('--corpus <file>', 'JSONL corpus: BEIR corpus.jsonl (title + text) or objects with "text"')
    .option('--limit <n>', 'texts to encode per setting', intOption('--limit', 1), 200)
    .option('--batch-sizes <list>', 'comma-separated batch sizes', intListOption('--batch-sizes', ...RANGES.encoderBatch), [8])
    .option('--threads <list>', 'comma-separated total thread counts', intListOption('--threads', ...RANGES.threads), [2])
    .option('--workers <list>', 'comma-separated worker counts (0 = in-process)', intListOption('--workers', ...RANGES.encoderWorkers), [0])
    .option('--warmup <n>', 'texts encoded before timing each setting', intOption('--warmup', 0), 16)
    .option('--query', 'query mode')
    .option('--long <mode>', 'truncate or passages', 'truncate')
    .option('--json', 'print JSON rows')
    .action(async (opts: Record<string, unknown>) => {
      const config = configFrom(opts);
      const log = createLogger(config.logLevel);
      const texts = await readCorpusTexts(opts.corpus as string, opts.limit as number);
      const mode: EncodeMode = opts.query ? 'query' : 'document';
      const warm = texts.slice(0, opts.warmup as number);
      const rows: EncoderBenchRow[] = [];
      let device = config.device;
      for (const workers of opts.workers as number[])
        for (const threads of opts.threads as number[])
          for (const batchSize of opts.batchSizes as number[]) {
            const enc = await createEncoder({ modelDir: config.modelDir, device: config.device, workers, threads, batchSize, long: opts.long as LongTextMode, log });
            device = enc.device;
            try {
              if (warm.length) await enc.encode(warm, mode);
              const before = enc.stats();
              const t0 = performance.now();
              await enc.encode(texts, mode);
              const seconds = (performance.now() - t0) / 1000;
              const after = enc.stats();
              const tokens = after.tokens - before.tokens;
              const row: EncoderBenchRow = {
                workers,
                threads,
                batchSize,
                texts: texts.length,
                tokens,
                seconds: +seconds.toFixed(3),
                textsPerSec: +(texts.length / seconds).toFixed(2),
                tokensPerSec: Math.round(tokens / seconds),
                truncated: after.truncated - before.truncated,
                rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
                ratio: 1,
              };
              row.ratio = rows.length ? +(row.textsPerSec / rows[0]!.textsPerSec).toFixed(2) : 1;
              rows.push(row);
              log.info(row, 'bench encoder setting done');
            } finally {
              await enc.close();
            }
          }
      const machine = machineInfo();
      emit(Boolean(opts.json), { model: config.modelDir, device, mode, machine, rows }, () => {
        const head = ['workers', 'threads', 'batch', 'texts', 'tokens', 'seconds', 'texts/s', 'tokens/s', 'truncated', 'rss MB', 'ratio'];
        const body = rows.map((r) => [r.workers, r.threads, r.batchSize, r.texts, r.tokens, r.seconds.toFixed(2), r.textsPerSec.toFixed(1), r.tokensPerSec, r.truncated, r.rssMB, r.ratio.toFixed(2)].map(String));
        const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
        const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(w[i]!)).join('  ');
        return [`encoder benchmark: ${mode} mode, device ${device}, model ${config.modelDir}`, `machine: ${describeCpu(machine)}`, fmt(head), ...body.map(fmt)].join('\n');
      });
    });
}
