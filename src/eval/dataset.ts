import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { resolveParseOptions } from '../ingest/document.js';
import { readSource } from '../ingest/source-reader.js';
import { parseQrels, type Qrels } from './metrics.js';
import { SaespladeError } from '../errors.js';

/**
 * A BEIR-layout collection: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`)
 * and `qrels/<split>.tsv`. Only queries that appear in the qrels are evaluated (the others have no
 * judgements), in the order of queries.jsonl.
 */
export interface BeirDataset {
  /** The directory's name (e.g. `scifact`): the collection name REPORT.md uses. */
  name: string;
  dir: string;
  corpusPath: string;
  /** sha256 of corpus.jsonl (identifies the corpus an index was built from). */
  corpusSha256: string;
  /** Distinct ids of the corpus lines ingest accepts (format `beir`), in file order. */
  docIds: string[];
  /** Corpus lines ingest rejects (no id, no text, ...). */
  rejectedDocs: number;
  /** Judged queries (in the qrels), in file order. */
  queries: { id: string; text: string }[];
  qrels: Qrels;
  /** Query ids in the qrels that have no text in queries.jsonl (not evaluated). */
  missingQueries: string[];
}

export class DatasetError extends SaespladeError {
  override name = 'DatasetError';
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Reads and checks a BEIR directory (split `test` by default). */
export async function loadBeirDataset(dir: string, split = 'test'): Promise<BeirDataset> {
  const abs = path.resolve(dir);
  const corpusPath = path.join(abs, 'corpus.jsonl');
  const queriesPath = path.join(abs, 'queries.jsonl');
  const qrelsPath = path.join(abs, 'qrels', `${split}.tsv`);
  for (const f of [corpusPath, queriesPath, qrelsPath]) {
    if (!existsSync(f)) throw new DatasetError(`${dir} is not a BEIR collection: ${path.relative(abs, f)} is missing (expected corpus.jsonl, queries.jsonl, qrels/${split}.tsv)`);
  }
  const qrels = parseQrels(readFileSync(qrelsPath, 'utf8'));
  if (qrels.size === 0) throw new DatasetError(`${qrelsPath} has no judgements`);

  const queries: { id: string; text: string }[] = [];
  const seen = new Set<string>();
  readFileSync(queriesPath, 'utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (!line.trim()) return;
      let q: { _id?: unknown; id?: unknown; text?: unknown };
      try {
        q = JSON.parse(line);
      } catch (e) {
        throw new DatasetError(`${queriesPath}:${i + 1}: not JSON (${(e as Error).message})`);
      }
      const id = String(q._id ?? q.id ?? '');
      if (!id || !qrels.has(id) || seen.has(id) || typeof q.text !== 'string' || !q.text.trim()) return;
      seen.add(id);
      queries.push({ id, text: q.text });
    });
  if (queries.length === 0) throw new DatasetError(`no query of ${queriesPath} has judgements in ${qrelsPath}`);

  const ids = new Set<string>();
  let rejected = 0;
  for await (const item of readSource(corpusPath, resolveParseOptions({ format: 'beir' }))) {
    if (item.ok) ids.add(item.doc.id);
    else rejected++;
  }
  if (ids.size === 0) throw new DatasetError(`${corpusPath} has no valid document`);

  return {
    name: path.basename(abs),
    dir: abs,
    corpusPath,
    corpusSha256: await sha256File(corpusPath),
    docIds: [...ids],
    rejectedDocs: rejected,
    queries,
    qrels,
    missingQueries: [...qrels.keys()].filter((id) => !seen.has(id)),
  };
}
