/**
 * The engine adapter without a server: what `GET /` answers mean (the engines' real answers, trimmed),
 * which are refused and how, and the exact requests the point-in-time calls send to each engine.
 */
import { describe, expect, it } from 'vitest';
import type { Client } from '@opensearch-project/opensearch';
import {
  getEngine,
  parseEngineInfo,
  rememberEngine,
  SearchEngine,
  SUPPORTED_ENGINES,
  supportedEnginesText,
  UnsupportedEngineError,
} from '../../src/opensearch/engine.js';

// What the dev nodes answered (dev/opensearch, dev/opensearch3, dev/elasticsearch7), build fields trimmed.
const OPENSEARCH_2 = {
  name: 'node-0',
  cluster_name: 'saesplade-dev-9200',
  version: { distribution: 'opensearch', number: '2.19.6', build_type: 'unknown', lucene_version: '9.12.3', minimum_wire_compatibility_version: '7.10.0' },
  tagline: 'The OpenSearch Project: https://opensearch.org/',
};
const OPENSEARCH_3 = {
  name: 'node-0',
  version: { distribution: 'opensearch', number: '3.3.2', build_type: 'unknown', lucene_version: '10.3.1' },
  tagline: 'The OpenSearch Project: https://opensearch.org/',
};
const ELASTICSEARCH_7 = {
  name: 'node-0',
  version: { number: '7.17.25', build_flavor: 'unknown', build_type: 'unknown', lucene_version: '8.11.3' },
  tagline: 'You Know, for Search',
};
const root = (number: string, distribution?: string) => ({ version: distribution ? { number, distribution } : { number } });

describe('parseEngineInfo', () => {
  it('recognizes the three tested engines', () => {
    expect(parseEngineInfo(OPENSEARCH_2)).toEqual({
      name: 'opensearch', version: '2.19.6', major: 2, minor: 19, label: 'OpenSearch 2.19.6', support: 'tested',
    });
    expect(parseEngineInfo(OPENSEARCH_3)).toMatchObject({ name: 'opensearch', major: 3, minor: 3, label: 'OpenSearch 3.3.2', support: 'tested' });
    expect(parseEngineInfo(ELASTICSEARCH_7)).toMatchObject({ name: 'elasticsearch', major: 7, minor: 17, label: 'Elasticsearch 7.17.25', support: 'tested' });
  });

  it('accepts OpenSearch 2.12 and newer 2.x, any 3.x, Elasticsearch 7.17.x', () => {
    for (const v of ['2.12.0', '2.13.0', '2.19.1', '2.99.0', '3.0.0', '3.5.0']) {
      expect(parseEngineInfo(root(v, 'opensearch')).support).toBe('tested');
    }
    expect(parseEngineInfo(root('7.17.0')).support).toBe('tested');
    expect(parseEngineInfo(root('7.17.29')).support).toBe('tested');
  });

  it('accepts Elasticsearch 8.x and 9.x as untested but expected', () => {
    expect(parseEngineInfo(root('8.15.1'))).toMatchObject({ name: 'elasticsearch', major: 8, support: 'expected' });
    expect(parseEngineInfo(root('9.0.0'))).toMatchObject({ name: 'elasticsearch', major: 9, support: 'expected' });
    expect(parseEngineInfo(root('8.0.0-SNAPSHOT'))).toMatchObject({ major: 8, minor: 0 });
  });

  it.each([
    ['OpenSearch 1.3.20', root('1.3.20', 'opensearch'), /OpenSearch 1\.3\.20 is not supported \(too old\)/],
    ['OpenSearch 2.11.1', root('2.11.1', 'opensearch'), /OpenSearch 2\.11\.1 is not supported \(too old\)/],
    ['OpenSearch 4.0.0', root('4.0.0', 'opensearch'), /OpenSearch 4\.0\.0 is not supported \(a major version/],
    ['OpenSearch pretending to be 7.10.2', root('7.10.2', 'opensearch'), /compatibility\.override_main_response_version/],
    ['Elasticsearch 7.16.3', root('7.16.3'), /Elasticsearch 7\.16\.3 is not supported \(too old\)/],
    ['Open Distro (7.10.2, no distribution)', root('7.10.2'), /Elasticsearch 7\.10\.2 is not supported \(too old\)/],
    ['Elasticsearch 6.8.23', root('6.8.23'), /Elasticsearch 6\.8\.23 is not supported \(too old\)/],
    ['Elasticsearch 10.0.0', root('10.0.0'), /Elasticsearch 10\.0\.0 is not supported \(a major version/],
    ['an unknown distribution', root('1.0.0', 'othersearch'), /"othersearch" 1\.0\.0 is not supported \(unknown distribution\)/],
    ['no version at all', { ok: true }, /no version\.number/],
    ['a garbled version', root('latest', 'opensearch'), /unparseable version/],
    ['null', null, /no version\.number/],
  ])('refuses %s, listing what is supported', (_name, body, pattern) => {
    let err: unknown;
    try {
      parseEngineInfo(body);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedEngineError);
    const msg = (err as Error).message;
    expect(msg).toMatch(pattern);
    expect(msg).toContain(`Supported: ${supportedEnginesText()}.`);
  });

  it('lists every supported engine with its tested version', () => {
    expect(supportedEnginesText()).toBe(
      'OpenSearch 2.12 to 2.x (tested: 2.19.6); OpenSearch 3.x (tested: 3.3.2); Elasticsearch 7.17.x (tested: 7.17.25); ' +
        'Elasticsearch 8.x, 9.x (untested, expected by API compatibility)',
    );
    expect(SUPPORTED_ENGINES.filter((e) => e.support === 'tested').map((e) => e.tested)).toEqual(['2.19.6', '3.3.2', '7.17.25']);
  });
});

/** A client whose only transport answers from a table and records what it was asked. */
function fakeClient(answer: (req: { method: string; path: string; querystring?: unknown; body?: unknown }) => unknown) {
  const calls: { req: { method: string; path: string; querystring?: unknown; body?: unknown }; opts?: unknown }[] = [];
  let infoCalls = 0;
  const client = {
    transport: {
      request: async (req: { method: string; path: string }, opts?: unknown) => {
        calls.push({ req, opts });
        return { body: answer(req), statusCode: 200 };
      },
    },
    info: async () => {
      infoCalls++;
      return { body: answer({ method: 'GET', path: '/' }) };
    },
  } as unknown as Client;
  return { client, calls, infoCalls: () => infoCalls };
}

describe('SearchEngine point in time', () => {
  it('OpenSearch: POST /INDEX/_search/point_in_time, DELETE /_search/point_in_time {pit_id: [...]}', async () => {
    const { client, calls } = fakeClient((r) => (r.method === 'POST' ? { pit_id: 'P1', _shards: {}, creation_time: 1 } : { pits: [] }));
    const engine = new SearchEngine(client, parseEngineInfo(OPENSEARCH_2));
    expect(await engine.openPointInTime('concepts-docs', '2m')).toBe('P1');
    await engine.closePointInTime('P1');
    expect(calls.map((c) => c.req)).toEqual([
      { method: 'POST', path: '/concepts-docs/_search/point_in_time', querystring: { keep_alive: '2m' } },
      { method: 'DELETE', path: '/_search/point_in_time', body: { pit_id: ['P1'] } },
    ]);
    expect(calls[1]!.opts).toEqual({ ignore: [404] });
    expect(engine.pitBody('P1', '2m')).toEqual({ pit: { id: 'P1', keep_alive: '2m' } });
    expect(engine.pitSort([{ score: 'desc' }])).toEqual([{ score: 'desc' }, { _id: 'asc' }]);
  });

  it('Elasticsearch: POST /INDEX/_pit, DELETE /_pit {id}', async () => {
    const { client, calls } = fakeClient((r) => (r.method === 'POST' ? { id: 'E1' } : { succeeded: true, num_freed: 1 }));
    const engine = new SearchEngine(client, parseEngineInfo(ELASTICSEARCH_7));
    expect(await engine.openPointInTime('a,b', '1m')).toBe('E1');
    await engine.closePointInTime('E1');
    expect(calls.map((c) => c.req)).toEqual([
      { method: 'POST', path: '/a,b/_pit', querystring: { keep_alive: '1m' } },
      { method: 'DELETE', path: '/_pit', body: { id: 'E1' } },
    ]);
    expect(engine.pitSort()).toEqual([{ _shard_doc: 'asc' }]);
  });

  it('says which engine gave no point-in-time id', async () => {
    const { client } = fakeClient(() => ({ acknowledged: true }));
    const engine = new SearchEngine(client, parseEngineInfo(OPENSEARCH_3));
    await expect(engine.openPointInTime('x', '1m')).rejects.toThrow(/OpenSearch 3\.3\.2: opening a point in time on "x" returned no id/);
  });

  it('drops Elasticsearch 7\'s _type and leaves other items alone', () => {
    const engine = new SearchEngine({} as Client, parseEngineInfo(ELASTICSEARCH_7));
    const hit = { _index: 'i', _type: '_doc', _id: '1', _score: 2 };
    expect(engine.withoutType(hit)).toEqual({ _index: 'i', _id: '1', _score: 2 });
    const os = { _index: 'i', _id: '1' };
    expect(engine.withoutType(os)).toBe(os);
  });
});

describe('getEngine', () => {
  it('asks GET / once per client, and not at all after checkOpenSearch told it', async () => {
    const a = fakeClient(() => ELASTICSEARCH_7);
    const [e1, e2] = await Promise.all([getEngine(a.client), getEngine(a.client)]);
    expect(e1).toBe(e2);
    expect(e1.name).toBe('elasticsearch');
    expect(a.infoCalls()).toBe(1);

    const b = fakeClient(() => OPENSEARCH_3);
    const remembered = rememberEngine(b.client, OPENSEARCH_3);
    expect(await getEngine(b.client)).toBe(remembered);
    expect(b.infoCalls()).toBe(0);
  });

  it('refuses an unsupported engine, and asks again next time', async () => {
    let answer: unknown = root('7.10.2');
    const c = fakeClient(() => answer);
    await expect(getEngine(c.client)).rejects.toThrow(UnsupportedEngineError);
    answer = OPENSEARCH_2;
    expect((await getEngine(c.client)).info.label).toBe('OpenSearch 2.19.6');
    expect(c.infoCalls()).toBe(2);
  });
});

describe('checkOpenSearch refuses an unsupported engine', () => {
  it('names the URL, what it found and what is supported', async () => {
    const { createServer } = await import('node:http');
    const { createOpenSearchClient, checkOpenSearch } = await import('../../src/opensearch/client.js');
    const { loadConfig } = await import('../../src/config.js');
    let answer: unknown = { version: { number: '7.10.2', build_flavor: 'oss' }, tagline: 'You Know, for Search' };
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const client = createOpenSearchClient(loadConfig({ opensearchUrl: url }, {}));
    try {
      const err = await checkOpenSearch(client, url).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsupportedEngineError);
      expect((err as Error).message).toMatch(new RegExp(`^${url.replace(/[.]/g, '\\.')}: Elasticsearch 7\\.10\\.2 is not supported \\(too old\\)\\. Supported: OpenSearch 2\\.12`));
      answer = { version: { number: '8.15.0', build_flavor: 'default' } };
      expect(await checkOpenSearch(client, url)).toEqual({ distribution: 'elasticsearch', version: '8.15.0', support: 'expected' });
      // and the adapter now knows it without asking again
      expect((await getEngine(client)).info.label).toBe('Elasticsearch 8.15.0');
    } finally {
      await client.close();
      await new Promise((r) => server.close(r));
    }
  });
});
