import type { Client } from '@opensearch-project/opensearch';
import type { SearchEngine as Engine } from './engine.js';

/** One page of a point in time: its hits and the sort values to resume after (null before the first hit). */
export interface PitPage<S = Record<string, unknown>> {
  hits: { _id: string; _index?: string; _source?: S; sort?: unknown[] }[];
  /** Sort values of the last hit, or the `after` the page was asked with when it is empty. */
  after: unknown[] | null;
  /** The page was shorter than `size`: nothing follows. */
  last: boolean;
}

export interface PitPagesOptions {
  /** The open point in time (`Engine.openPointInTime`) and its keep-alive. */
  pit: string;
  keepAlive: string;
  size: number;
  /** `_source` of the search (default true: the whole source). */
  source?: boolean | string[];
  /** One slice of `slices` (a slice clause is only sent with more than one). */
  slice?: number;
  slices?: number;
  /** Resume after these sort values (a page's `after`); null or absent: from the start. */
  after?: unknown[] | null;
  /** Awaited before each page is fetched (e.g. to wait for room in a queue). */
  beforePage?: () => Promise<void>;
}

/** The `_search` body of one page of (one slice of) a point in time, sent without an index. Pure. */
export function pitPageBody(engine: Pick<Engine, 'pitBody' | 'pitSort'>, o: PitPagesOptions, after: unknown[] | null): Record<string, unknown> {
  const body: Record<string, unknown> = {
    size: o.size,
    ...engine.pitBody(o.pit, o.keepAlive),
    sort: engine.pitSort(),
    track_total_hits: false,
    _source: o.source ?? true,
  };
  // A slice clause with max 1 is refused ("max must be greater than 1").
  if (o.slices !== undefined && o.slices > 1) body.slice = { id: o.slice ?? 0, max: o.slices };
  if (after) body.search_after = after;
  return body;
}

/**
 * Pages through a point in time with `search_after`, one `_search` per page, until a page is
 * shorter than `size` (that last page is yielded too). The caller opens and closes the point in
 * time (`withPointInTime`), so that several slices can share one.
 */
export async function* pitPages<S = Record<string, unknown>>(client: Client, engine: Engine, o: PitPagesOptions): AsyncGenerator<PitPage<S>> {
  let after = o.after ?? null;
  for (;;) {
    await o.beforePage?.();
    const res = await client.search({ body: pitPageBody(engine, o, after) as any });
    const hits = ((res.body as any).hits?.hits ?? []) as PitPage<S>['hits'];
    if (hits.length > 0) after = hits[hits.length - 1]!.sort ?? after;
    const last = hits.length < o.size;
    yield { hits, after, last };
    if (last) return;
  }
}

/** Opens a point in time on `index`, runs `fn` with its id, and closes it (an expired one too). */
export async function withPointInTime<T>(engine: Engine, index: string, keepAlive: string, fn: (pit: string) => Promise<T>): Promise<T> {
  const pit = await engine.openPointInTime(index, keepAlive);
  try {
    return await fn(pit);
  } finally {
    await engine.closePointInTime(pit).catch(() => undefined);
  }
}
