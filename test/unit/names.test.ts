import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { assertIndexName, indexNameProblem, InvalidNameError, queueNameProblem } from '../../src/names.js';

/** Names OpenSearch refuses, or that address more than one index (wildcards, lists, _all). */
const BAD_INDEX_NAMES: [string, RegExp][] = [
  ['*', /contains "\*"/],
  ['throw*', /contains "\*"/],
  ['_all', /_all/],
  ['a,b', /contains ","/],
  ['x:y', /contains ":"/],
  ['Docs', /not lower case/],
  ['a b', /a space/],
  ['a\tb', /a control character|a space/],
  ['a"b', /contains """/],
  ['a\\b', /contains "\\"/],
  ['a/b', /contains "\/"/],
  ['a?b', /contains "\?"/],
  ['a<b', /contains "<"/],
  ['a>b', /contains ">"/],
  ['a|b', /contains "\|"/],
  ['a#b', /contains "#"/],
  ['-a', /starts with "-"/],
  ['_a', /starts with "_"/],
  ['+a', /starts with "\+"/],
  ['.', /is "\."/],
  ['..', /is "\.\."/],
  ['', /empty/],
  ['a'.repeat(256), /256 bytes/],
  ['é'.repeat(128), /256 bytes/],
];

describe('index and alias names', () => {
  it.each(BAD_INDEX_NAMES)('refuses %j', (name, why) => {
    expect(indexNameProblem(name)).toMatch(why);
    expect(() => assertIndexName('--alias', name)).toThrow(InvalidNameError);
  });

  it('accepts what OpenSearch accepts', () => {
    for (const ok of ['concepts-docs', 'eval-scifact-sae-splade-1.1.0', '.hidden', 'a_b+c-d.e', 'a'.repeat(255), 'é'.repeat(127), 'données']) {
      expect(indexNameProblem(ok)).toBeUndefined();
    }
  });
});

describe('queue names', () => {
  it('refuses BullMQ\'s key separator and Redis key-pattern characters', () => {
    for (const bad of ['x:y', 'q*', 'q?', 'q[1]', 'a\\b', 'a,b', 'a b', '', 'q'.repeat(256)]) expect(queueNameProblem(bad), bad).toBeDefined();
  });
  it('accepts ordinary names, upper case included', () => {
    for (const ok of ['saesplade-ingest', 'saesplade-reindex-docs-sae-splade-1.1.0', 'Ingest_2']) expect(queueNameProblem(ok)).toBeUndefined();
  });
});

describe('loadConfig checks the names where they enter', () => {
  it('refuses a bad index from a flag in one line naming the flag, the variable and the rule', () => {
    let message = '';
    try {
      loadConfig({ index: '*' }, {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).not.toContain('\n');
    expect(message).toMatch(/^invalid configuration: index \(--index; env SAESPLADE_INDEX\): "\*" is not a valid index or alias name \(it contains "\*"\); index and alias names are lower case/);
  });

  it('refuses a bad index from the environment, naming the variable', () => {
    expect(() => loadConfig({}, { SAESPLADE_INDEX: 'a,b' })).toThrow(/index \(SAESPLADE_INDEX\): "a,b" is not a valid index or alias name \(it contains ","\)/);
    expect(() => loadConfig({}, { SAESPLADE_INDEX: '_all' })).toThrow(ConfigError);
    expect(() => loadConfig({}, { SAESPLADE_INDEX: 'Docs' })).toThrow(/not lower case/);
  });

  it('refuses a queue name with ":" (which BullMQ refuses only after connections exist)', () => {
    expect(() => loadConfig({ queue: 'x:y' }, {})).toThrow(/queue \(--queue; env SAESPLADE_QUEUE\): "x:y" is not a valid queue name \(it contains ":"\)/);
    expect(() => loadConfig({}, { SAESPLADE_QUEUE: 'x:y' })).toThrow(/queue \(SAESPLADE_QUEUE\)/);
  });
});
