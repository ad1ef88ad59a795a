import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { runScale, type ScaleSize } from '../bench/scale-run.js';
import { buildProfile, loadProfile, ProfileBuilder, saveProfile, type ScaleProfile } from '../bench/scale-profile.js';
import { assertIndexModel } from '../opensearch/indexes.js';
import { createEncoder } from '../encoder/index.js';
import { loadBeirDataset } from '../eval/dataset.js';
import { describeCpu, machineInfo } from '../machine.js';
import { createOpenSearchClient } from '../opensearch/client.js';
import { benchGroup } from './bench.js';
import { readCorpusTexts } from './bench-encoder.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { indexNameOption, intListOption, intOption } from './options.js';

/** `saesplade bench scale`: query latency against index size on synthetic collections that follow a real one. */
export function register(program: Command): void {
  withConfigOptions(
    benchGroup(program)
      .command('scale')
      .description(
        'query cost against index size: grows one synthetic index (10k, 100k, 1M documents by default) whose concept ' +
          'vectors and text follow a real encoded collection (non-zeros per document, each concept\'s document frequency ' +
          'and weights, words per document and word frequencies), and at each size measures p50/p99 at each concurrency ' +
          'for exact concept search, two-phase (16 and 32 heavy concepts) and BM25, recall@10 of two-phase against exact, ' +
          'index bytes per document and build time. Query vectors are the collection\'s real encoded queries.',
      )
      .requiredOption('--dataset <dir>', 'the real collection to imitate (BEIR folder), e.g. ../shared/datasets/scifact')
      .option('--profile <file.json>', 'the profile: read when it exists, else measured from --dataset and written here')
      .option('--profile-index <index>', 'measure the profile from an index this model already encoded --dataset into (e.g. the eval-<dataset>-<model>-<version> index of `saesplade eval`) instead of encoding documents here')
      .option('--profile-docs <n>', 'documents of --dataset encoded for the profile', intOption('--profile-docs', 50), 2000)
      .option('--sizes <list>', 'index sizes, ascending (the index grows from one to the next)', intListOption('--sizes', 100), [10_000, 100_000, 1_000_000])
      .option('--queries <n>', 'timed queries per variant and concurrency', intOption('--queries', 10), 200)
      .option('--concurrency <list>', 'concurrent searches', intListOption('--concurrency', 1, 64), [1, 4])
      .option('--bench-index <name>', 'the synthetic index (deleted first, kept after)', indexNameOption('--bench-index'), 'bench-scale')
      .option('--out <file.json>', 'also write the result here (scripts/plot-scale.py draws it)')
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: Record<string, any>) => {
    const config = configFrom(opts);
    const log = (m: string) => process.stderr.write(`bench scale: ${m}\n`);
    let profile: ScaleProfile;
    if (opts.profile && existsSync(opts.profile)) {
      profile = loadProfile(opts.profile);
      log(`profile ${opts.profile}: ${profile.documents} documents of ${profile.source}, ${profile.queries.length} queries`);
    } else {
      const ds = await loadBeirDataset(opts.dataset);
      const source = path.basename(path.resolve(opts.dataset));
      const queries = ds.queries.map((q) => ({ id: q.id, text: q.text }));
      const encoder = await createEncoder({ modelDir: config.modelDir, device: config.device, workers: 0 });
      try {
        if (opts.profileIndex) {
          const client = createOpenSearchClient(config);
          try {
            await assertIndexModel(client, opts.profileIndex, encoder.model);
            const b = new ProfileBuilder({ name: encoder.model.name, version: encoder.model.version }, source);
            const docs = client.helpers.scrollDocuments({ index: opts.profileIndex, size: 500, body: { _source: ['title', 'text', 'concepts'] } } as any);
            for await (const d of docs as AsyncIterable<any>) b.add(d.concepts ?? {}, [d.title, d.text].filter(Boolean).join(' '));
            log(`profile from index ${opts.profileIndex}: ${b.p.documents} documents; encoding ${queries.length} queries`);
            await b.addQueries(encoder, queries);
            profile = b.p;
          } finally {
            await client.close();
          }
        } else {
          const docs = await readCorpusTexts(path.join(path.resolve(opts.dataset), 'corpus.jsonl'), opts.profileDocs);
          log(`profiling ${docs.length} documents and ${queries.length} queries of ${opts.dataset} with ${encoder.model.name} ${encoder.model.version}`);
          profile = await buildProfile(encoder, source, docs, queries, (d, t) => {
            if (d % 320 === 0 || d === t) log(`  encoded ${d}/${t}`);
          });
        }
      } finally {
        await encoder.close();
      }
      if (opts.profile) saveProfile(opts.profile, profile);
    }
    const client = createOpenSearchClient(config);
    try {
      const t0 = Date.now();
      const res = await runScale({
        client,
        profile,
        sizes: opts.sizes,
        index: opts.benchIndex,
        queries: opts.queries,
        concurrency: opts.concurrency,
        log,
        onBuild: (d, t) => {
          if (d % 50_000 === 0) log(`  built ${d}/${t} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
        },
      });
      const out = { machine: describeCpu(machineInfo()), model: profile.model, profile: { source: profile.source, documents: profile.documents }, ...res };
      if (opts.out) writeFileSync(opts.out, JSON.stringify(out, null, 1) + '\n');
      emit(opts.json, out, () => render(res.sizes, res.checks));
    } finally {
      await client.close();
    }
  });
}

function render(sizes: ScaleSize[], c: Awaited<ReturnType<typeof runScale>>['checks']): string {
  const lines = [
    `checks (first ${c.checkedDocs} synthetic documents against the profile): non-zeros/doc ${c.generatedNnzMean.toFixed(1)} vs ${c.profileNnzMean.toFixed(1)}; ` +
      `df share correlation ${c.dfShareCorrelation.toFixed(3)}; top-100 concepts' share of postings ${c.top100ShareGenerated.toFixed(3)} vs ${c.top100ShareProfile.toFixed(3)}; ` +
      `words/doc ${c.generatedWordsMean.toFixed(1)} vs ${c.profileWordsMean.toFixed(1)}`,
    '',
    '| documents | build s (cumulative) | bytes/doc | segments | variant | c | p50 ms | p99 ms | qps | took p50 | recall@10 vs exact |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of sizes)
    for (const r of s.rows)
      lines.push(
        `| ${s.n} | ${s.buildSeconds.toFixed(0)} (${s.cumulativeBuildSeconds.toFixed(0)}) | ${s.bytesPerDoc.toFixed(0)} | ${s.segments} | ${r.variant} | ${r.concurrency} | ` +
          `${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.qps.toFixed(1)} | ${r.tookP50} | ${r.recall10 === undefined ? '' : r.recall10.toFixed(3)} |`,
      );
  return lines.join('\n');
}
