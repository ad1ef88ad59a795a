/**
 * Against the REAL services that scripts/services.sh starts (scripts/test.sh starts them; so does
 * `scripts/services.sh start`): an OpenSearch 2.19 node and Redis, at the configured URLs
 * (OPENSEARCH_URL / REDIS_URL, default 127.0.0.1:9200 and :6379).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PACKAGE_ROOT, type Config } from '../../src/config.js';
import { ServiceUnreachableError } from '../../src/errors.js';
import { checkOpenSearch, createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import { checkRedis, createRedis } from '../../src/redis.js';

const config = loadConfig();
const INDEX = `test-services-${process.pid}-${Date.now()}`;
let client: Client;

/**
 * What a `rank_features` value keeps: Lucene's FeatureField stores the float's bits shifted right by
 * 15, i.e. the sign, the exponent and the top 8 of 23 mantissa bits (9 significant bits counting the
 * implicit one), truncated toward zero. So a stored value is in (v * (1 - 2^-8), v].
 */
function rankFeatureStored(v: number): number {
  const f = new Float32Array([v]);
  const bits = new Uint32Array(f.buffer);
  bits[0] = (bits[0]! >>> 15) << 15;
  return f[0]!;
}

/** A port that nothing listens on (bound by us, then closed). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

function rankFeatureQuery(weights: Record<string, number>) {
  return {
    bool: {
      should: Object.entries(weights).map(([concept, w]) => ({
        rank_feature: { field: `concepts.${concept}`, linear: {}, boost: w },
      })),
    },
  };
}

beforeAll(async () => {
  client = createOpenSearchClient(config);
  // Fails with a message that names the URL and says to run scripts/services.sh start.
  await checkOpenSearch(client, config.opensearchUrl);
  const body = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'mappings', 'concepts-index.json'), 'utf8'));
  await client.indices.create({ index: INDEX, body });
});

afterAll(async () => {
  await client?.indices.delete({ index: INDEX, ignore_unavailable: true }).catch(() => undefined);
  await client?.close();
});

describe('OpenSearch node', () => {
  it('is OpenSearch 2.x with the modules the product needs', async () => {
    const id = await checkOpenSearch(client, config.opensearchUrl);
    expect(id.distribution).toBe('opensearch');
    expect(id.version).toMatch(/^2\./);
    const plugins = (await client.cat.plugins({ format: 'json' })).body as { component: string }[];
    const names = new Set(plugins.map((p) => p.component));
    // a local dev node lists its modules as plugins; a managed cluster lists nothing here
    if (names.size > 0) expect(names).toContain('org.opensearch.index.mapper.MapperExtrasPlugin');
  });

  it('creates the concept index from mappings/concepts-index.json', async () => {
    const mapping = (await client.indices.getMapping({ index: INDEX })).body[INDEX].mappings;
    expect(mapping.properties.concepts.type).toBe('rank_features');
    expect(mapping.properties.text.analyzer).toBe('english');
    expect(mapping.properties.content_hash.type).toBe('keyword');
    const analyzed = (await client.indices.analyze({ index: INDEX, body: { field: 'text', text: 'running dogs' } })).body;
    expect(analyzed.tokens.map((t: { token: string }) => t.token)).toEqual(['run', 'dog']);
  });

  // Concept ids are decimal strings; weights chosen so that some are not representable in 9 bits.
  const docs: Record<string, Record<string, number>> = {
    d1: { '1': 1.0, '42': 2.0 },
    d2: { '42': 0.3, '4711': 3.0, '9': 7.0 },
    d3: { '1': 0.1234, '4711': 0.7777, '40000': 12.5 },
    d4: { '9': 5.0 },
  };
  const query = { '1': 0.5, '42': 2.0, '4711': 1.3333 };

  it('scores a bool of linear rank_feature clauses as the dot product', async () => {
    const ops = Object.entries(docs).flatMap(([id, concepts]) => [
      { index: { _index: INDEX, _id: id } },
      { title: id, text: `document ${id}`, concepts, content_hash: id, model_version: 'test' },
    ]);
    const bulk = (await client.bulk({ body: ops, refresh: 'true' })).body;
    expect(bulk.errors).toBe(false);

    const res = (
      await client.search({
        index: INDEX,
        body: { query: rankFeatureQuery(query), track_total_hits: false, size: 10 },
      })
    ).body;
    const hits = res.hits.hits as { _id: string; _score: number }[];

    const exact = (id: string) => Object.entries(query).reduce((s, [c, w]) => s + w * (docs[id]![c] ?? 0), 0);
    const quantized = (id: string) =>
      Object.entries(query).reduce((s, [c, w]) => s + w * rankFeatureStored(docs[id]![c] ?? 0), 0);

    // ranking by the exact dot product (d2 4.6 > d1 4.5 > d3 1.1; d4 shares no concept), computed here
    const expected = Object.keys(docs)
      .filter((id) => exact(id) > 0)
      .sort((a, b) => exact(b) - exact(a));
    expect(hits.map((h) => h._id)).toEqual(expected);
    expect(hits.map((h) => h._id)).not.toContain('d4');

    for (const h of hits) {
      // 1. Within rank_features' precision of the exact dot product: every stored value is in
      //    (v (1 - 2^-8), v] and all terms are positive, so the sum is in (exact (1 - 2^-8), exact],
      //    plus float32 rounding of the score (1e-6 relative).
      const e = exact(h._id);
      expect(h._score).toBeLessThanOrEqual(e * (1 + 1e-6));
      expect(h._score).toBeGreaterThan(e * (1 - 2 ** -8) * (1 - 1e-6));
      // 2. And exactly the dot product of the stored (truncated) values, up to float32 arithmetic.
      expect(Math.abs(h._score - quantized(h._id)) / quantized(h._id)).toBeLessThan(1e-5);
    }
    // values exactly representable in 9 bits come back exactly: d1 = 0.5*1 + 2*2
    expect(hits.find((h) => h._id === 'd1')!._score).toBe(4.5);
  });

  it('rejects a zero or negative concept weight (the whole document)', async () => {
    for (const bad of [0, -1]) {
      const res = (
        await client.bulk({
          body: [{ index: { _index: INDEX, _id: `bad${bad}` } }, { text: 'x', concepts: { '5': bad, '6': 1 } }],
          refresh: 'true',
        })
      ).body;
      expect(res.errors).toBe(true);
      expect(JSON.stringify(res.items[0].index.error)).toMatch(/positive normal float/);
    }
    const count = (await client.count({ index: INDEX, body: { query: { ids: { values: ['bad0', 'bad-1'] } } } })).body;
    expect(count.count).toBe(0);
  });

  it('enforces indices.query.bool.max_clause_count = 1024 (the product must prune queries to fit)', async () => {
    const weights = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i + 1), 1]));
    const ok = await client.search({ index: INDEX, body: { query: rankFeatureQuery(weights(1024)), track_total_hits: false } });
    expect(ok.statusCode).toBe(200);
    await expect(
      client.search({ index: INDEX, body: { query: rankFeatureQuery(weights(1025)), track_total_hits: false } }),
    ).rejects.toThrow(/maxClauseCount is set to 1024|too_many_clauses|too_many_nested_clauses/);
  });
});

describe('checkOpenSearch', () => {
  it('says clearly that nothing listens on a closed port', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const c = createOpenSearchClient(loadConfig({ opensearchUrl: url }, {}));
    const err = await checkOpenSearch(c, url).catch((e: unknown) => e);
    await c.close();
    expect(err).toBeInstanceOf(ServiceUnreachableError);
    const e = err as ServiceUnreachableError;
    expect(e.service).toBe('opensearch');
    expect(e.url).toBe(url);
    expect(e.message).toContain(url);
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(e.message).toMatch(/scripts\/services\.sh start.*OPENSEARCH_URL/);
  });

  // The dev node has no security plugin: put a proxy that checks credentials (and one with TLS) in front.
  describe.skipIf(new URL(config.opensearchUrl).protocol !== 'http:')('through a reverse proxy that checks credentials (basic auth, then TLS)', () => {
    const target = new URL(config.opensearchUrl);
    const proxy = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.headers.authorization !== 'Basic ' + Buffer.from('alice:wonder land').toString('base64')) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"', 'content-type': 'application/json' });
        res.end('{"error":"unauthorized"}');
        return;
      }
      const up = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    let httpServer: http.Server;
    let httpsServer: https.Server;
    let httpUrl = '';
    let httpsUrl = '';
    let tmp = '';

    beforeAll(async () => {
      httpServer = http.createServer(proxy);
      await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
      httpUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
      // A self-signed certificate for 127.0.0.1, standing in for a cluster's private CA.
      tmp = mkdtempSync(path.join(os.tmpdir(), 'saesplade-tls-'));
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'ca.pem'),
      ], { stdio: 'ignore' });
      httpsServer = https.createServer(
        { key: readFileSync(path.join(tmp, 'key.pem')), cert: readFileSync(path.join(tmp, 'ca.pem')) },
        proxy,
      );
      await new Promise<void>((r) => httpsServer.listen(0, '127.0.0.1', r));
      httpsUrl = `https://127.0.0.1:${(httpsServer.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await Promise.all([httpServer, httpsServer].map((s) => s && new Promise((r) => s.close(r))));
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    const check = async (c: Partial<Config>) => {
      const cfg = { ...loadConfig({}, {}), ...c };
      const c2 = createOpenSearchClient(cfg);
      try {
        return await checkOpenSearch(c2, cfg.opensearchUrl);
      } finally {
        await c2.close();
      }
    };

    it('reports 401 without credentials, and works with them', async () => {
      await expect(check({ opensearchUrl: httpUrl })).rejects.toThrow(/401.*OPENSEARCH_USERNAME/);
      await expect(check({ opensearchUrl: httpUrl, opensearchUsername: 'alice', opensearchPassword: 'nope' })).rejects.toThrow(/401/);
      const id = await check({ opensearchUrl: httpUrl, opensearchUsername: 'alice', opensearchPassword: 'wonder land' });
      expect(id.version).toMatch(/^2\./);
    });

    it('reports an untrusted certificate as a TLS error, and trusts the CA file or the insecure flag', async () => {
      const creds = { opensearchUsername: 'alice', opensearchPassword: 'wonder land' };
      await expect(check({ opensearchUrl: httpsUrl, ...creds })).rejects.toThrow(/TLS error.*OPENSEARCH_CA_CERT/);
      expect((await check({ opensearchUrl: httpsUrl, ...creds, opensearchCaCert: path.join(tmp, 'ca.pem') })).version).toMatch(/^2\./);
      expect((await check({ opensearchUrl: httpsUrl, ...creds, opensearchInsecure: true })).version).toMatch(/^2\./);
      expect(() => createOpenSearchClient({ ...loadConfig({}, {}), opensearchCaCert: path.join(tmp, 'missing.pem') })).toThrow(
        /OPENSEARCH_CA_CERT.*missing\.pem/,
      );
    });
  });
});

describe('Redis', () => {
  it('answers PING through checkRedis', async () => {
    const { version } = await checkRedis(config);
    expect(version).toMatch(/^\d+\.\d+/);
  });

  it('createRedis gives a BullMQ-ready connection (maxRetriesPerRequest: null)', async () => {
    const redis = createRedis(config);
    try {
      expect(redis.options.maxRetriesPerRequest).toBeNull();
      const key = `saesplade:test:${process.pid}`;
      await redis.set(key, 'v', 'EX', 60);
      expect(await redis.get(key)).toBe('v');
      await redis.del(key);
    } finally {
      redis.disconnect();
    }
  });

  it('checkRedis fails fast and clearly on a closed port', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const t0 = Date.now();
    const err = await checkRedis(loadConfig({ redisUrl: url }, {})).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(err).toBeInstanceOf(ServiceUnreachableError);
    const e = err as ServiceUnreachableError;
    expect(e.service).toBe('redis');
    expect(e.url).toBe(url);
    expect(e.message).toContain(url);
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(e.message).toMatch(/scripts\/services\.sh start.*REDIS_URL/);
  });
});
