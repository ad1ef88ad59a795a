import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_MODEL_DIR, ENV_VARS, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('has working defaults with an empty environment', () => {
    const c = loadConfig({}, {});
    expect(c).toEqual({
      opensearchUrl: 'http://127.0.0.1:9200',
      opensearchInsecure: false,
      redisUrl: 'redis://127.0.0.1:6379',
      modelDir: DEFAULT_MODEL_DIR,
      index: 'concepts-docs',
      queue: 'saesplade-ingest',
      device: 'cpu',
      logLevel: 'info',
      shards: 1,
      replicas: 0,
    });
    // 127.0.0.1, not localhost: Node may resolve localhost to ::1 where the dev services do not listen
    expect(c.opensearchUrl).toContain('127.0.0.1');
  });

  it('reads every setting from its environment variable', () => {
    const c = loadConfig(
      {},
      {
        OPENSEARCH_URL: 'https://search.example.com:9200',
        OPENSEARCH_USERNAME: 'admin',
        OPENSEARCH_PASSWORD: 's3cret',
        OPENSEARCH_CA_CERT: '/etc/ca.pem',
        OPENSEARCH_INSECURE: 'true',
        REDIS_URL: 'redis://redis.example.com:6380',
        SAESPLADE_MODEL: '/models/x',
        SAESPLADE_INDEX: 'docs',
        SAESPLADE_QUEUE: 'q',
        SAESPLADE_DEVICE: 'cuda:1',
        LOG_LEVEL: 'debug',
        SAESPLADE_SHARDS: '3',
        SAESPLADE_REPLICAS: '2',
        SAESPLADE_BULK_REFRESH_INTERVAL: '30s',
      },
    );
    expect(c).toEqual({
      opensearchUrl: 'https://search.example.com:9200',
      opensearchUsername: 'admin',
      opensearchPassword: 's3cret',
      opensearchCaCert: '/etc/ca.pem',
      opensearchInsecure: true,
      redisUrl: 'redis://redis.example.com:6380',
      modelDir: '/models/x',
      index: 'docs',
      queue: 'q',
      device: 'cuda:1',
      logLevel: 'debug',
      shards: 3,
      replicas: 2,
      bulkRefreshInterval: '30s',
    });
  });

  it('refuses shards, replicas and refresh intervals out of their rules, naming the setting', () => {
    expect(() => loadConfig({}, { SAESPLADE_SHARDS: '0' })).toThrow(/shards \(SAESPLADE_SHARDS\): must be an integer from 1 to 1024/);
    expect(() => loadConfig({ replicas: '1.5' }, {})).toThrow(/replicas \(--replicas; env SAESPLADE_REPLICAS\)/);
    expect(() => loadConfig({}, { SAESPLADE_REPLICAS: '0x1' })).toThrow(ConfigError);
    expect(() => loadConfig({ bulkRefreshInterval: 'soon' }, {})).toThrow(/bulk-refresh-interval.*-1 \(no refresh\) or a time/);
    expect(loadConfig({ bulkRefreshInterval: '-1' }, {}).bulkRefreshInterval).toBe('-1');
  });

  it('lets flags win over the environment', () => {
    const c = loadConfig(
      { opensearchUrl: 'http://127.0.0.1:9201', device: 'cuda', index: 'from-flag' },
      { OPENSEARCH_URL: 'http://127.0.0.1:9999', SAESPLADE_DEVICE: 'cpu', SAESPLADE_INDEX: 'from-env', SAESPLADE_QUEUE: 'env-q' },
    );
    expect(c.opensearchUrl).toBe('http://127.0.0.1:9201');
    expect(c.device).toBe('cuda');
    expect(c.index).toBe('from-flag');
    expect(c.queue).toBe('env-q');
  });

  it('ignores empty environment variables', () => {
    expect(loadConfig({}, { OPENSEARCH_URL: '', SAESPLADE_DEVICE: '' }).opensearchUrl).toBe('http://127.0.0.1:9200');
  });

  it('reads boolean-ish values', () => {
    for (const [v, want] of [['1', true], ['yes', true], ['ON', true], ['0', false], ['false', false]] as const) {
      expect(loadConfig({}, { OPENSEARCH_INSECURE: v }).opensearchInsecure).toBe(want);
    }
  });

  it('rejects an invalid device, naming the setting and its environment variable', () => {
    expect(() => loadConfig({}, { SAESPLADE_DEVICE: 'gpu' })).toThrow(ConfigError);
    expect(() => loadConfig({}, { SAESPLADE_DEVICE: 'gpu' })).toThrow(/device \(SAESPLADE_DEVICE\).*cpu, cuda or cuda:N/);
    expect(() => loadConfig({ device: 'cuda:x' }, {})).toThrow(/SAESPLADE_DEVICE/);
  });

  it('rejects several bad settings at once, each with its variable', () => {
    let message = '';
    try {
      loadConfig({}, { OPENSEARCH_URL: 'not a url', LOG_LEVEL: 'loud' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/opensearchUrl \(OPENSEARCH_URL\)/);
    expect(message).toMatch(/logLevel \(LOG_LEVEL\)/);
  });

  it('has an environment variable for every key', () => {
    for (const key of Object.keys(loadConfig({}, {}))) expect(ENV_VARS).toHaveProperty(key);
  });
});
