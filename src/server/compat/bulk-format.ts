/**
 * The `_bulk` wire format, pure: NDJSON action lines (index / create / update / delete) each
 * followed by a source line except delete; parsed into items that keep their raw lines (an item
 * the endpoint does not touch is sent on byte for byte), and the per-item answers merged back in
 * the request's order.
 */
import { CompatError } from './errors.js';

export type BulkOp = 'index' | 'create' | 'update' | 'delete';
const OPS = new Set<BulkOp>(['index', 'create', 'update', 'delete']);

export interface BulkItem {
  /** Position in the request, 0-based. */
  position: number;
  op: BulkOp;
  /** The action's metadata (`_index`, `_id`, `routing`, `if_seq_no`, ...). */
  meta: Record<string, unknown>;
  /** Target index: the action's `_index`, else the one in the path. */
  index?: string;
  /** The raw lines, for an item sent on unchanged. */
  rawAction: string;
  rawSource?: string;
  /** The parsed source line (undefined for delete, or when it is not JSON: see sourceError). */
  source?: unknown;
  /** Why the source line is not JSON. */
  sourceError?: string;
}

/**
 * Splits a bulk body into items. A bad action line (not JSON, not one known action, a source line
 * missing) fails the whole request, as it does in OpenSearch; a source line that is not JSON is
 * kept with its error, for the item alone to fail if the endpoint must read it.
 */
export function parseBulkBody(text: string, pathIndex?: string): BulkItem[] {
  const lines = text.split('\n');
  const items: BulkItem[] = [];
  let i = 0;
  while (i < lines.length) {
    const rawAction = stripCr(lines[i]!);
    i++;
    if (rawAction.trim() === '') continue;
    let action: unknown;
    try {
      action = JSON.parse(rawAction);
    } catch (err) {
      throw new CompatError(400, 'illegal_argument_exception', `Malformed action/metadata line [${i}], expected START_OBJECT: ${(err as Error).message}`);
    }
    if (action === null || typeof action !== 'object' || Array.isArray(action) || Object.keys(action).length !== 1) {
      throw new CompatError(400, 'illegal_argument_exception', `Malformed action/metadata line [${i}], expected one action (index, create, update, delete)`);
    }
    const [op, meta] = Object.entries(action as Record<string, unknown>)[0]!;
    if (!OPS.has(op as BulkOp)) throw new CompatError(400, 'illegal_argument_exception', `Action/metadata line [${i}] contains an unknown parameter [${op}]`);
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new CompatError(400, 'illegal_argument_exception', `Malformed action/metadata line [${i}]: [${op}] must hold an object`);
    const m = meta as Record<string, unknown>;
    const index = typeof m._index === 'string' ? m._index : pathIndex;
    const item: BulkItem = { position: items.length, op: op as BulkOp, meta: m, rawAction };
    if (index !== undefined) item.index = index;
    if (op !== 'delete') {
      if (i >= lines.length || (i === lines.length - 1 && lines[i] === '')) throw new CompatError(400, 'illegal_argument_exception', `The bulk request must be terminated by a newline [\\n]; action line [${i}] has no source line`);
      const rawSource = stripCr(lines[i]!);
      i++;
      item.rawSource = rawSource;
      try {
        item.source = JSON.parse(rawSource);
      } catch (err) {
        item.sourceError = `failed to parse the source of line [${i}]: ${(err as Error).message}`;
      }
    }
    items.push(item);
  }
  return items;
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** The NDJSON body of `items`: each either as it came (raw) or rewritten. */
export function serializeBulk(items: readonly { action: string; source?: string }[]): string {
  let out = '';
  for (const it of items) {
    out += it.action + '\n';
    if (it.source !== undefined) out += it.source + '\n';
  }
  return out;
}

/** A bulk item answer as OpenSearch writes one: `{"<op>": {"_index", "_id", "status", ...}}`. */
export type ItemAnswer = Record<string, Record<string, unknown>>;

export function failedItem(item: BulkItem, status: number, error: { type: string; reason: string }): ItemAnswer {
  const id = typeof item.meta._id === 'string' || typeof item.meta._id === 'number' ? String(item.meta._id) : null;
  return { [item.op]: { _index: item.index ?? null, _id: id, status, error: { ...error, ...(item.index ? { index: item.index } : {}) } } };
}

/**
 * The answers of all items in request order: those decided here (`local`, by position) and the
 * cluster's answers to the rest, which came back in the order they were sent (`sent`).
 */
export function mergeItems(total: number, local: ReadonlyMap<number, ItemAnswer>, sent: readonly number[], remote: readonly ItemAnswer[]): ItemAnswer[] {
  if (remote.length !== sent.length) throw new Error(`the cluster answered ${remote.length} bulk items for ${sent.length} sent`);
  const out: ItemAnswer[] = new Array(total);
  for (const [pos, a] of local) out[pos] = a;
  sent.forEach((pos, k) => (out[pos] = remote[k]!));
  for (let p = 0; p < total; p++) if (out[p] === undefined) throw new Error(`bulk item ${p} has no answer`);
  return out;
}

/** Whether an item answer is a failure (status >= 300 or an error object). */
export function itemFailed(a: ItemAnswer): boolean {
  const inner = Object.values(a)[0] ?? {};
  return inner.error !== undefined || (typeof inner.status === 'number' && inner.status >= 300);
}
