import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { indexNameOption, intListOption, intOption, numberOption, RANGES, rangedInt } from '../../src/commands/options.js';

describe('numeric option parsers', () => {
  it('refuses what is not an integer in range, with the range in the message', () => {
    const workers = rangedInt('--encoder-workers', RANGES.encoderWorkers);
    for (const bad of ['abc', '-1', '1.5', '', ' ', '0x10', '1e3', 'NaN', 'Infinity', '65']) {
      expect(() => workers(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(() => workers('abc')).toThrow('--encoder-workers must be an integer from 0 to 64, got "abc"');
    expect(workers('0')).toBe(0);
    expect(workers('4')).toBe(4);
    expect(workers(' 2 ')).toBe(2);
  });

  it('gives the lock duration a floor that BullMQ can renew in time', () => {
    const lock = rangedInt('--lock-duration', RANGES.lockDurationMs);
    expect(() => lock('1')).toThrow(/--lock-duration must be an integer from 3000 to 86400000, got "1"/);
    expect(lock('3000')).toBe(3000);
    expect(lock('120000')).toBe(120_000);
    expect(() => rangedInt('--stalled-interval', RANGES.stalledIntervalMs)('10')).toThrow(/from 1000/);
  });

  it('open-ended integers say >= min', () => {
    expect(() => intOption('--limit', 1)('0')).toThrow('--limit must be an integer >= 1, got "0"');
    expect(intOption('--limit', 1)('7')).toBe(7);
  });

  it('numbers and lists', () => {
    expect(numberOption('--tolerance', 0, 1)('0.05')).toBe(0.05);
    expect(numberOption('--min-weight', 0)('.5')).toBe(0.5);
    expect(numberOption('--min-weight', 0)('1e-3')).toBe(0.001);
    for (const bad of ['abc', '', '-0.1', '2', 'NaN']) expect(() => numberOption('--tolerance', 0, 1)(bad), bad).toThrow(/--tolerance must be a number from 0 to 1/);
    expect(intListOption('--workers', 0, 64)('0,1, 2')).toEqual([0, 1, 2]);
    expect(() => intListOption('--workers', 0, 64)('0,abc')).toThrow(/--workers/);
  });

  it('name options', () => {
    expect(indexNameOption('--alias')('docs')).toBe('docs');
    expect(() => indexNameOption('--alias')('*')).toThrow(/--alias: "\*" is not a valid index or alias name/);
  });
});
