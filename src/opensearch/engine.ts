/**
 * The one place that knows which search engine is on the other end (docs/ENGINES.md).
 *
 * The product speaks to OpenSearch 2.x / 3.x and Elasticsearch 7.17 with the same client
 * (@opensearch-project/opensearch) and, for almost everything (`rank_features`, `rank_feature`,
 * `_bulk`, `_search`, `_aliases`, `_reindex`, mapping `_meta`, `indices.*`), with the same calls. What
 * differs is gathered here, decided once from `GET /`; no other module branches on the engine:
 *
 *   - point in time: OpenSearch `POST /INDEX/_search/point_in_time?keep_alive=` → `{pit_id}`, closed by
 *     `DELETE /_search/point_in_time {pit_id: [...]}`; Elasticsearch `POST /INDEX/_pit?keep_alive=` →
 *     `{id}`, closed by `DELETE /_pit {id}`. The search body is `pit: {id, keep_alive}` on both (and
 *     the request names no index).
 *   - the tiebreaker for `search_after` under a PIT: Elasticsearch has `_shard_doc`; OpenSearch (2.19,
 *     3.3) answers "No mapping found for [_shard_doc]" and its `_doc` values repeat across shards, so
 *     there it is `_id`.
 *   - `_type`: Elasticsearch 7 puts `_type: "_doc"` in hits and bulk items; `withoutType` drops it.
 *
 * Supported: OpenSearch 2.12 or newer 2.x (2.19.6 tested), OpenSearch 3.x (3.3.2 tested),
 * Elasticsearch 7.17.x (7.17.25 tested); Elasticsearch 8.x and 9.x are accepted as untested but
 * expected (see SUPPORTED_ENGINES). Everything else is refused with UnsupportedEngineError.
 */
import type { Client } from '@opensearch-project/opensearch';
import { SaespladeError } from '../errors.js';

export type EngineName = 'opensearch' | 'elasticsearch';

/** `tested`: the integration suite runs against it; `expected`: same calls by API compatibility, not run here. */
export type SupportLevel = 'tested' | 'expected';

export interface EngineInfo {
  name: EngineName;
  /** `version.number` as the engine reports it. */
  version: string;
  major: number;
  minor: number;
  /** e.g. `OpenSearch 2.19.6`. */
  label: string;
  support: SupportLevel;
}

/** The supported engines, for messages and docs. Keep in line with docs/ENGINES.md. */
export const SUPPORTED_ENGINES: readonly { engine: string; versions: string; support: SupportLevel; tested?: string }[] = [
  { engine: 'OpenSearch', versions: '2.12 to 2.x', support: 'tested', tested: '2.19.6' },
  { engine: 'OpenSearch', versions: '3.x', support: 'tested', tested: '3.3.2' },
  { engine: 'Elasticsearch', versions: '7.17.x', support: 'tested', tested: '7.17.25' },
  { engine: 'Elasticsearch', versions: '8.x, 9.x', support: 'expected' },
];

export function supportedEnginesText(): string {
  return SUPPORTED_ENGINES.map(
    (e) => `${e.engine} ${e.versions} (${e.support === 'tested' ? `tested: ${e.tested}` : 'untested, expected by API compatibility'})`,
  ).join('; ');
}

export class UnsupportedEngineError extends SaespladeError {
  override name = 'UnsupportedEngineError';
  constructor(
    /** What the engine said it is, e.g. `Elasticsearch 7.10.2`, or a description of the odd answer. */
    readonly found: string,
    reason?: string,
  ) {
    super(`${found} is not supported${reason ? ` (${reason})` : ''}. Supported: ${supportedEnginesText()}.`);
  }
}

interface RootBody {
  version?: { number?: unknown; distribution?: unknown };
}

/**
 * What `GET /` says the engine is; throws UnsupportedEngineError for an engine or version outside
 * SUPPORTED_ENGINES. Pure: the unit tests feed it the engines' real answers.
 */
export function parseEngineInfo(root: unknown): EngineInfo {
  const v = (root as RootBody | null | undefined)?.version;
  const number = typeof v?.number === 'string' ? v.number : undefined;
  if (!number) {
    throw new UnsupportedEngineError(
      `a server whose GET / has no version.number (${JSON.stringify(root ?? null).slice(0, 120)})`,
      'not OpenSearch or Elasticsearch?',
    );
  }
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(number);
  if (!m) throw new UnsupportedEngineError(`a server reporting version "${number}"`, 'unparseable version');
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const distribution = typeof v?.distribution === 'string' ? v.distribution : undefined;

  if (distribution === 'opensearch') {
    const label = `OpenSearch ${number}`;
    if (major === 7) {
      // compatibility.override_main_response_version makes OpenSearch report 7.10.2
      throw new UnsupportedEngineError(
        label,
        'this is OpenSearch with compatibility.override_main_response_version set, which hides its real version; unset it',
      );
    }
    if (major === 3 || (major === 2 && minor >= 12)) return { name: 'opensearch', version: number, major, minor, label, support: 'tested' };
    throw new UnsupportedEngineError(label, major <= 2 ? 'too old' : 'a major version this release has not been tested with');
  }
  if (distribution !== undefined) {
    throw new UnsupportedEngineError(`"${distribution}" ${number}`, 'unknown distribution');
  }
  // Elasticsearch has no version.distribution.
  const label = `Elasticsearch ${number}`;
  if (major === 7 && minor === 17) return { name: 'elasticsearch', version: number, major, minor, label, support: 'tested' };
  if (major === 8 || major === 9) return { name: 'elasticsearch', version: number, major, minor, label, support: 'expected' };
  // (Open Distro for Elasticsearch also lands here: it reports 7.10.2 and no distribution.)
  throw new UnsupportedEngineError(label, major <= 7 ? 'too old' : 'a major version this release has not been checked against');
}

/** A sort clause, as the search body takes it. */
export type SortClause = string | Record<string, unknown>;

/** The engine-specific calls, for one client and the engine behind it. */
export class SearchEngine {
  constructor(
    readonly client: Client,
    readonly info: EngineInfo,
  ) {}

  get name(): EngineName {
    return this.info.name;
  }

  /** Opens a point in time on `index` (an index, alias or comma list) and returns its id. */
  async openPointInTime(index: string, keepAlive: string): Promise<string> {
    const path = this.info.name === 'opensearch' ? '_search/point_in_time' : '_pit';
    const res = await this.client.transport.request({
      method: 'POST',
      path: `/${encodeURIComponent(index).replace(/%2C/gi, ',')}/${path}`,
      querystring: { keep_alive: keepAlive },
    });
    const body = res.body as { pit_id?: string; id?: string };
    const id = this.info.name === 'opensearch' ? body.pit_id : body.id;
    if (typeof id !== 'string' || id === '') {
      throw new Error(`${this.info.label}: opening a point in time on "${index}" returned no id (${JSON.stringify(body).slice(0, 200)})`);
    }
    return id;
  }

  /** Closes a point in time; closing one that has already expired is not an error. */
  async closePointInTime(id: string): Promise<void> {
    const req =
      this.info.name === 'opensearch'
        ? { method: 'DELETE', path: '/_search/point_in_time', body: { pit_id: [id] } }
        : { method: 'DELETE', path: '/_pit', body: { id } };
    await this.client.transport.request(req, { ignore: [404] });
  }

  /** The `pit` part of a search body (send it to `_search` without an index). */
  pitBody(id: string, keepAlive: string): { pit: { id: string; keep_alive: string } } {
    return { pit: { id, keep_alive: keepAlive } };
  }

  /**
   * The sort for paging a point in time with `search_after`: `sort` followed by a tiebreaker that is
   * unique per document (`_shard_doc` on Elasticsearch, `_id` on OpenSearch, which has no
   * `_shard_doc`). Sorting on `_id` costs heap on large OpenSearch indices; it is what works.
   */
  pitSort(sort: SortClause[] = []): SortClause[] {
    return [...sort, this.info.name === 'elasticsearch' ? { _shard_doc: 'asc' } : { _id: 'asc' }];
  }

  /** A hit or bulk item without Elasticsearch 7's `_type` (OpenSearch and Elasticsearch 8+ send none). */
  withoutType<T extends object>(item: T): Omit<T, '_type'> {
    if (!('_type' in item)) return item;
    const { _type, ...rest } = item as T & { _type?: unknown };
    return rest;
  }
}

const cache = new WeakMap<Client, Promise<SearchEngine>>();

/**
 * The engine behind `client`, from one `GET /` per client (later calls share it). Throws
 * UnsupportedEngineError for an unsupported engine or version; a failed request is not cached.
 */
export function getEngine(client: Client): Promise<SearchEngine> {
  let p = cache.get(client);
  if (!p) {
    p = client.info().then((res) => new SearchEngine(client, parseEngineInfo(res.body)));
    p.catch(() => cache.delete(client));
    cache.set(client, p);
  }
  return p;
}

/** Records what a `GET /` already done for `client` said (checkOpenSearch), so getEngine does not ask again. */
export function rememberEngine(client: Client, root: unknown): SearchEngine {
  const engine = new SearchEngine(client, parseEngineInfo(root));
  cache.set(client, Promise.resolve(engine));
  return engine;
}
