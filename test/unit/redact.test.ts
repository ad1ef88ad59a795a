import { describe, expect, it } from 'vitest';
import { commandLine } from '../../src/commands/eval.js';
import { redactArgs, redactText, secretsOf } from '../../src/errors.js';

const ENV = { REDIS_URL: 'redis://:redisPa55@127.0.0.1:6379', OPENSEARCH_PASSWORD: 'osPa55word', OPENSEARCH_URL: 'https://admin:urlPa55@search:9200' };

describe('redaction of credentials', () => {
  it('finds the secrets of an environment', () => {
    expect(secretsOf(ENV).sort()).toEqual(['osPa55word', 'redisPa55', 'urlPa55'].sort());
  });

  it('survives a password that is not valid percent-encoding, and decodes one that is', () => {
    expect(secretsOf({ REDIS_URL: 'redis://:a%zz@h:1' })).toEqual(['a%zz']);
    expect(secretsOf({ REDIS_URL: 'redis://:p%40ss@h:1' }).sort()).toEqual(['p%40ss', 'p@ss']);
  });

  it('replaces URL passwords in text', () => {
    expect(redactText('at redis://u:s3cr3t@h:6379 and https://a:b@c/')).toBe('at redis://u:***@h:6379 and https://a:***@c/');
  });

  it('the eval report command line holds no credentials', () => {
    const argv = [
      'eval', '--dataset', 'd', '--redis-url', 'redis://:flagPa55@h:6379', '--opensearch-url=https://admin:flagOs55@h:9200',
      '--filter', '{"term":{"x":"osPa55word"}}',
    ];
    const line = commandLine(argv, ENV);
    for (const secret of ['flagPa55', 'flagOs55', 'osPa55word', 'redisPa55', 'urlPa55']) expect(line).not.toContain(secret);
    expect(line).toContain('redis://:***@h:6379');
    expect(line).toContain('--dataset d');
    expect(redactArgs(['--limit-queries', '5'], ENV)).toEqual(['--limit-queries', '5']);
  });
});
