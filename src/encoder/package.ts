import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ModelPackageError } from './errors.js';
import { ManifestSchema, type GraphSpec, type Manifest } from './manifest.js';
import type { EncodeMode, ModelIdentity } from './types.js';

/** A model package whose manifest is valid and whose files exist (graphs not opened yet). */
export interface ModelPackage {
  dir: string;
  manifest: Manifest;
  identity: ModelIdentity;
  /** Parsed tokenizer.json. */
  tokenizerJson: object;
  /** Concept labels from concepts.json, or undefined when the package has none. */
  labels?: string[];
  /** Absolute path of each mode's graph file. */
  graphFile: Record<EncodeMode, string>;
  graph: Record<EncodeMode, GraphSpec>;
  /** Absolute path of the inference-free query table, when the package has one. */
  queryTableFile?: string;
}

/** Path for messages: relative to the working directory when that is shorter. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && rel.length < p.length ? rel : p;
}

function readJson(file: string, what: string): unknown {
  if (!existsSync(file)) throw new ModelPackageError(`${displayPath(file)}: ${what} not found`, file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ModelPackageError(`${displayPath(file)}: cannot read ${what}: ${(e as Error).message}`, file);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelPackageError(`${displayPath(file)}: ${what} is not valid JSON: ${(e as Error).message}`, file);
  }
}

function issuePath(p: readonly PropertyKey[]): string {
  return p.map((k) => String(k)).join('.') || '(root)';
}

/** Reads and validates manifest.json (zod schema of docs/MODEL_PACKAGE.md), without touching other files. */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ModelPackageError(`${displayPath(dir)}: model package directory not found`, dir);
  const raw = readJson(file, 'manifest');
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${issuePath(i.path)}: ${i.message}`);
    throw new ModelPackageError(`${displayPath(file)}: invalid manifest:\n  ${problems.join('\n  ')}`, file);
  }
  return parsed.data;
}

/** Token strings by id from a tokenizer.json's `model.vocab` (WordPiece, BPE: an object token -> id), or undefined. */
export function vocabularyTokens(tokenizerJson: object): string[] | undefined {
  const vocab = (tokenizerJson as { model?: { vocab?: unknown } }).model?.vocab;
  if (!vocab || typeof vocab !== 'object' || Array.isArray(vocab)) return undefined;
  const entries = Object.entries(vocab as Record<string, unknown>);
  const out: string[] = new Array(entries.length);
  for (const [t, i] of entries) {
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= entries.length || out[i] !== undefined) return undefined;
    out[i] = t;
  }
  return out;
}

const ConceptsSchema = z.object({ labels: z.array(z.string()) });

/**
 * Loads a model package: validates manifest.json, checks that every file it names exists, parses
 * tokenizer.json and concepts.json. Throws ModelPackageError naming the file and the problem.
 */
export function loadModelPackage(dir: string): ModelPackage {
  dir = path.resolve(dir);
  const manifest = readManifest(dir);
  const mfile = displayPath(path.join(dir, 'manifest.json'));
  const need = (rel: string, key: string): string => {
    const abs = path.join(dir, rel);
    if (!existsSync(abs) || !statSync(abs).isFile())
      throw new ModelPackageError(`${mfile}: ${key} = '${rel}' but ${displayPath(abs)} does not exist`, abs);
    return abs;
  };
  const tokFile = need(manifest.tokenizer, 'tokenizer');
  const tokenizerJson = readJson(tokFile, 'tokenizer') as Record<string, unknown>;
  if (typeof tokenizerJson !== 'object' || tokenizerJson === null || typeof tokenizerJson.model !== 'object')
    throw new ModelPackageError(`${displayPath(tokFile)}: not a Hugging Face tokenizer.json (no "model")`, tokFile);
  const docGraph = manifest.graphs.document;
  const qGraph = manifest.graphs.query ?? docGraph;
  const graphFile = {
    document: need(docGraph.file, 'graphs.document.file'),
    query: manifest.graphs.query ? need(qGraph.file, 'graphs.query.file') : need(docGraph.file, 'graphs.document.file'),
  };
  let labels: string[] | undefined;
  if (manifest.concepts) {
    const cfile = need(manifest.concepts, 'concepts');
    const parsed = ConceptsSchema.safeParse(readJson(cfile, 'concepts'));
    if (!parsed.success)
      throw new ModelPackageError(`${displayPath(cfile)}: expected {"labels": [string, ...]}: ${parsed.error.issues[0]?.message}`, cfile);
    if (parsed.data.labels.length !== manifest.dictionary_size)
      throw new ModelPackageError(
        `${displayPath(cfile)}: ${parsed.data.labels.length} labels but dictionary_size = ${manifest.dictionary_size} in ${mfile}`,
        cfile,
      );
    labels = parsed.data.labels;
  }
  if (manifest.dictionary === 'vocabulary') {
    // id j is token j of the tokenizer: the sizes must agree, and the labels (given or not) are the tokens
    const tokens = vocabularyTokens(tokenizerJson);
    if (!tokens)
      throw new ModelPackageError(`${mfile}: dictionary = 'vocabulary' but ${displayPath(tokFile)} has no vocabulary table (model.vocab)`, tokFile);
    if (tokens.length !== manifest.dictionary_size)
      throw new ModelPackageError(
        `${mfile}: dictionary = 'vocabulary' with dictionary_size = ${manifest.dictionary_size}, but ${displayPath(tokFile)} has ${tokens.length} tokens`,
        tokFile,
      );
    if (labels) {
      const bad = labels.findIndex((l, i) => l !== tokens[i]);
      if (bad >= 0)
        throw new ModelPackageError(`${mfile}: dictionary = 'vocabulary' but label ${bad} is '${labels[bad]}', token ${bad} is '${tokens[bad]}'`, mfile);
    } else labels = tokens;
  }
  if (manifest.golden) need(manifest.golden, 'golden');
  const queryTableFile = manifest.query_table ? need(manifest.query_table.file, 'query_table.file') : undefined;
  return {
    ...(queryTableFile ? { queryTableFile } : {}),
    dir,
    manifest,
    identity: { name: manifest.name, version: manifest.version, dictionarySize: manifest.dictionary_size },
    tokenizerJson,
    labels,
    graphFile,
    graph: { document: docGraph, query: qGraph },
  };
}
