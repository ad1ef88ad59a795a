/**
 * Name rules for what the product addresses by name: OpenSearch indexes and aliases, and BullMQ
 * queues. Checked once where configuration enters (src/config.ts, CLI options) and again by the
 * destructive-call guard (src/opensearch/safety.ts). Pure: no I/O.
 */
import { SaespladeError } from './errors.js';

/** Characters OpenSearch refuses in index and alias names (MetadataCreateIndexService), plus `:`. */
const INDEX_FORBIDDEN = ['*', ',', ':', '"', '\\', '/', '?', '<', '>', '|', ' ', '#'] as const;
const MAX_NAME_BYTES = 255;

/** The rule, in one sentence, for messages and the README. */
export const INDEX_NAME_RULE =
  'index and alias names are lower case, at most 255 bytes (UTF-8), contain no space and none of * , : " \\ / ? < > | #, ' +
  'do not start with - _ +, and are not . or ..';

export const QUEUE_NAME_RULE =
  'queue names are at most 255 bytes (UTF-8) and contain no space, control character or any of : * ? [ ] \\ , ' +
  '(BullMQ uses : as its key separator; the others are Redis key-pattern characters)';

function describeChar(c: string): string {
  if (c === ' ') return 'a space';
  if (/[\u0000-\u001f\u007f]/.test(c)) return `a control character (U+${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()})`;
  return `"${c}"`;
}

/** Why `name` is not a valid OpenSearch index or alias name, or undefined when it is. */
export function indexNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name === '.' || name === '..') return `it is "${name}"`;
  if (name === '_all') return 'it is _all (every index)';
  if (name.toLowerCase() !== name) return 'it is not lower case';
  for (const c of name) {
    if ((INDEX_FORBIDDEN as readonly string[]).includes(c) || /\s|[\u0000-\u001f\u007f]/.test(c)) return `it contains ${describeChar(c)}`;
  }
  if (/^[-_+]/.test(name)) return `it starts with "${name[0]}"`;
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) return `it is ${bytes} bytes long`;
  return undefined;
}

/** Why `name` is not a usable BullMQ queue name, or undefined when it is. */
export function queueNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  for (const c of name) {
    if (':*?[]\\,'.includes(c) || /\s|[\u0000-\u001f\u007f]/.test(c)) return `it contains ${describeChar(c)}`;
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) return `it is ${bytes} bytes long`;
  return undefined;
}

export class InvalidNameError extends SaespladeError {
  override name = 'InvalidNameError';
}

/** `--index: "Docs*" is not a valid index or alias name (it is not lower case); index and alias names are ...` */
export function indexNameMessage(what: string, name: string, problem: string): string {
  return `${what}: ${JSON.stringify(name)} is not a valid index or alias name (${problem}); ${INDEX_NAME_RULE}`;
}

export function queueNameMessage(what: string, name: string, problem: string): string {
  return `${what}: ${JSON.stringify(name)} is not a valid queue name (${problem}); ${QUEUE_NAME_RULE}`;
}

/** Throws InvalidNameError (naming `what`, e.g. `--alias`) unless `name` is a valid index or alias name. */
export function assertIndexName(what: string, name: string): string {
  const problem = indexNameProblem(name);
  if (problem) throw new InvalidNameError(indexNameMessage(what, name, problem));
  return name;
}

export function assertQueueName(what: string, name: string): string {
  const problem = queueNameProblem(name);
  if (problem) throw new InvalidNameError(queueNameMessage(what, name, problem));
  return name;
}

/** Lower-case, and every run of characters an index name may not hold (or that would read badly) → `-`. */
export function indexNamePart(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9_.]+/g, '-')
    .replace(/^[-_.]+|[-_.]+$/g, '');
}

/**
 * The new index for `alias` built with `model`: `<alias>-<model name>-<version>`, e.g.
 * `docs-sae-splade-minilm-l6-16k-0.1.0`. Deterministic, so an interrupted run finds (and reuses)
 * the index it started. Index names are at most 255 bytes: a long name is cut and keeps the version.
 */
export function targetIndexName(alias: string, model: { name: string; version: string }): string {
  const version = indexNamePart(model.version) || 'v';
  let head = `${indexNamePart(alias) || 'index'}-${indexNamePart(model.name) || 'model'}`;
  const max = 255 - version.length - 1;
  if (head.length > max) head = head.slice(0, max).replace(/[-_.]+$/, '');
  return `${head}-${version}`;
}
