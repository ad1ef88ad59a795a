import type { Command } from 'commander';
import { createEncoder, readManifest } from '../encoder/index.js';
import type { EncodeMode, LongTextMode } from '../encoder/types.js';
import { createLogger } from '../log.js';
import type { SparseVector } from '../sparse.js';
import { assertArgvFits } from './argv-limit.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { intOption, numberOption, RANGES, rangedInt } from './options.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}


function topConcepts(v: SparseVector, n: number, label: (id: number) => string | undefined) {
  const order = [...v.indices.keys()].sort((a, b) => v.values[b]! - v.values[a]! || v.indices[a]! - v.indices[b]!);
  return order.slice(0, n).map((i) => ({ concept: v.indices[i]!, weight: v.values[i]!, label: label(v.indices[i]!) }));
}

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('encode')
      .description(
        'encode texts into concept vectors and show them (texts as arguments, or one per line on stdin)\n' +
          'e.g. saesplade encode --query --top 10 "what does the heart do"',
      )
      .argument('[text...]', 'texts to encode (default: read stdin, one text per line)'),
  )
    .option('-q, --query', 'query mode (query graph, query max length and pruning)')
    .option('--top <n>', 'concepts to show per text, by weight, with their labels', intOption('--top', 1), 20)
    .option('--json', 'print JSON: per text the full vector (concept id -> weight) and the top concepts')
    .option('--raw', 'skip pruning (every positive weight the graph gives)')
    .option('--top-k <n>', 'prune: keep at most n concepts (overrides the package default)', intOption('--top-k', 0))
    .option('--min-weight <w>', 'prune: drop weights below w', numberOption('--min-weight', 0))
    .option('--long <mode>', 'documents over the max length: truncate or passages', 'truncate')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: all cores)', rangedInt('--threads', RANGES.threads))
    .option('--batch-size <n>', 'texts per forward pass (default 8, or 1 for a batch-dependent int8 graph)', rangedInt('--batch-size', RANGES.encoderBatch))
    .action(async (texts: string[], opts: Record<string, unknown>) => {
      const config = configFrom(opts);
      // what the ids are: learned concepts, or a vocabulary's tokens (word-piece SPLADE packages)
      const unit = readManifest(config.modelDir).dictionary === 'vocabulary' ? 'tokens' : 'concepts';
      const log = createLogger(config.logLevel);
      if (texts.length === 0) {
        if (process.stdin.isTTY) throw new Error('no text given: pass texts as arguments or pipe them on stdin (one per line)');
        texts = (await readStdin()).split(/\r?\n/).filter((l, i, a) => l.length > 0 || i < a.length - 1);
      } else {
        // Before any ONNX session exists: a long command line crashes onnxruntime-node (docs/KNOWN_ISSUES.md).
        assertArgvFits(texts, 'text', 'saesplade encode < texts.txt (one text per line)');
      }
      const mode: EncodeMode = opts.query ? 'query' : 'document';
      const enc = await createEncoder({
        modelDir: config.modelDir,
        device: config.device,
        threads: opts.threads as number | undefined,
        batchSize: opts.batchSize as number | undefined,
        long: opts.long as LongTextMode,
        log,
      });
      try {
        const vectors = await enc.encode(texts, mode, {
          raw: Boolean(opts.raw),
          pruning: { topK: opts.topK as number | undefined, minWeight: opts.minWeight as number | undefined },
        });
        const top = opts.top as number;
        const label = (id: number) => enc.label(id);
        const stats = enc.stats();
        const result = {
          model: enc.model,
          mode,
          stats,
          results: texts.map((text, i) => {
            const v = vectors[i]!;
            const vector: Record<string, number> = {};
            v.indices.forEach((id, j) => (vector[String(id)] = v.values[j]!));
            return { text, nnz: v.indices.length, top: topConcepts(v, top, label), vector };
          }),
        };
        emit(Boolean(opts.json), result, () => {
          const lines: string[] = [];
          result.results.forEach((r, i) => {
            const head = r.text.length > 70 ? r.text.slice(0, 67) + '...' : r.text;
            lines.push(`${i + 1}. ${JSON.stringify(head)}: ${r.nnz} ${unit}${r.nnz > top ? ` (top ${top})` : ''}`);
            if (r.nnz === 0) lines.push('   (empty vector: no content, or everything pruned)');
            for (const c of r.top) lines.push(`   ${String(c.concept).padStart(6)}  ${c.weight.toFixed(3)}  ${c.label ?? ''}`.trimEnd());
          });
          const s = stats;
          lines.push(
            `model ${enc.model.name} ${enc.model.version} (${enc.model.dictionarySize} ${unit}), ${mode} mode, device ${enc.device}; ` +
              `${s.tokens} tokens, ${s.truncated} truncated${s.passages ? `, ${s.passages} passages` : ''}`,
          );
          return lines.join('\n');
        });
      } finally {
        await enc.close();
      }
    });
}
