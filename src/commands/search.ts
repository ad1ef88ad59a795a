import type { Command } from 'commander';
import { createEncoder } from '../encoder/index.js';
import { createOpenSearchClient } from '../opensearch/client.js';
import { search, type SearchHit, type SearchResult } from '../search/search.js';
import { SEARCH_MODES, type SearchMode } from '../search/translator.js';
import * as benchQuery from './bench-query.js';
import { assertArgvFits, MAX_ARGV_TEXT_BYTES, readStdinText } from './argv-limit.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { JAVA_INT_MAX } from './options.js';
import { intOption, jsonClauseOption, listOption, modeOption, requestOptions, withQueryOptions } from './query-options.js';

// ---- human rendering ----

function oneLine(v: unknown, max: number): string {
  const s = (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v)).replace(/\s+/g, ' ').trim();
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/**
 * A concept label in a few words with its id: "heart|cardiac|cardiovascular#4711". The id stays
 * because several concepts can share their top tokens, and it is what `encode` and the index show.
 */
export function shortLabel(label: string | undefined, id: number): string {
  if (!label) return `#${id}`;
  const words = label.split(/[\s|,]+/).filter(Boolean).slice(0, 3);
  const text = oneLine(words.join('|'), 40);
  return text ? `${text}#${id}` : `#${id}`;
}

export function renderHits(result: SearchResult): string {
  const lines: string[] = [];
  const q = result.queryVector;
  const head =
    `${result.executed} search on "${result.index}": ${result.hits.length} hit(s), took ${result.took} ms ` +
    `(encode ${result.timings.encodeMs.toFixed(0)} ms, total ${result.timings.totalMs.toFixed(0)} ms)`;
  lines.push(head);
  if (result.fallback) lines.push(`note: the query has no concepts (after pruning); fell back to ${result.fallback.toUpperCase()}`);
  if (result.mode !== 'bm25' && q.used > 0) {
    const top = q.concepts.slice(0, 6).map((c) => `${shortLabel(c.label, c.id)} ${c.weight.toFixed(2)}`);
    const phase = q.firstPhase < q.used ? `, ${q.firstPhase} in the first phase` : '';
    lines.push(`query concepts: ${q.used} of ${q.nonZeros} used (${(q.keptMass * 100).toFixed(0)}% of the weight${phase}): ${top.join(', ')}${q.used > 6 ? ', …' : ''}`);
  }
  if (result.hits.length === 0) lines.push('no hits');
  for (const h of result.hits) lines.push(...renderHit(h));
  return lines.join('\n');
}

function renderHit(h: SearchHit): string[] {
  const src = h.source ?? {};
  const title = oneLine(src.title, 80);
  const out = [`${String(h.rank).padStart(3)}  ${h.score.toFixed(4).padStart(9)}  ${h.id}${title ? '  ' + title : ''}`];
  const snippet = oneLine(src.text, 160);
  if (snippet) out.push(`                ${snippet}`);
  if (h.ranks) out.push(`                ranks: concepts ${h.ranks.concepts ?? '-'}, bm25 ${h.ranks.bm25 ?? '-'}`);
  const e = h.explanation;
  if (e) {
    if (e.unavailable) out.push(`                matched concepts: (${e.unavailable})`);
    else if (e.concepts.length === 0) out.push('                matched concepts: none');
    else {
      const parts = e.concepts.map((c) => `${shortLabel(c.label, c.id)} (${(c.share * 100).toFixed(0)}%)`);
      if (e.otherShare > 0.005) parts.push(`${e.matched - e.concepts.length} more (${(e.otherShare * 100).toFixed(0)}%)`);
      out.push(`                matched concepts: ${parts.join(', ')}`);
    }
  }
  return out;
}

/** `saesplade search <query...>`, and `saesplade bench query` with it (one registration line in index.ts). */
export function register(program: Command): void {
  benchQuery.register(program);
  withQueryOptions(
    withConfigOptions(
      program
        .command('search')
        .description('search a concept index: the query is encoded into concepts and scored as a dot product (or BM25, or both)')
        .argument('[query...]', `the query text; - (or no argument, with text piped in) reads it from stdin, as long text must be (over ${MAX_ARGV_TEXT_BYTES} bytes)`)
        .option('--mode <mode>', `${SEARCH_MODES.join(' | ')}`, modeOption, 'concepts')
        .option('-n, --size <n>', 'hits per page', intOption('--size', 0, JAVA_INT_MAX), 10)
        .option('--from <n>', 'offset of the first hit', intOption('--from', 0, JAVA_INT_MAX), 0)
        .option('--filter <json>', 'OpenSearch query clause as a filter, e.g. \'{"term":{"model_version":"1.0.0"}}\' (repeatable)', jsonClauseOption)
        .option('--fields <list>', '_source fields to return (comma-separated; default: all but the concept map)', listOption)
        .option('--explain [n]', 'list the n concepts (default 5) that contributed most to each hit', intOption('--explain', 1, 1000))
        .option('--dsl', 'include the request bodies sent to OpenSearch (with --json, or printed after the hits)')
        .option('--json', 'print the result as JSON'),
    ),
  ).action(async (words: string[], opts: Record<string, any>) => {
    const config = configFrom(opts);
    let query: string;
    if ((words.length === 1 && words[0] === '-') || (words.length === 0 && !process.stdin.isTTY)) query = (await readStdinText()).trim();
    else if (words.length === 0) throw new Error('no query given: pass it as arguments, or on stdin (saesplade search - < query.txt)');
    else {
      // Before any ONNX session exists: a long command line crashes onnxruntime-node (docs/KNOWN_ISSUES.md).
      assertArgvFits(words, 'query', 'saesplade search - < query.txt (or: echo "..." | saesplade search -)');
      query = words.join(' ');
    }
    if (query === '') throw new Error('the query is empty');
    const client = createOpenSearchClient(config);
    const mode = opts.mode as SearchMode;
    const encoder = mode === 'bm25' ? undefined : await createEncoder({ modelDir: config.modelDir, device: config.device });
    try {
      const result = await search(
        { client, encoder },
        {
          index: config.index,
          query,
          mode,
          size: opts.size,
          from: opts.from,
          filter: opts.filter,
          source: opts.fields,
          explain: opts.explain === true ? 5 : opts.explain,
          includeDsl: Boolean(opts.dsl),
          ...requestOptions(opts),
        },
      );
      emit(opts.json, result, () => renderHits(result) + (result.dsl ? '\n\n' + JSON.stringify(result.dsl, null, 2) : ''));
    } finally {
      await encoder?.close();
      await client.close();
    }
  });
}
