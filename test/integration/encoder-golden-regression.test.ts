/**
 * The golden check can fail: broken copies of the default package (test/helpers/broken-package.ts),
 * each a real kind of regression, must be caught by exactly the check that the shipped package passes
 * on every CPU (docs/ENCODER.md, "Across machines"). Without this, a tolerance could be loosened until
 * the check passes anything.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR } from '../../src/config.js';
import { checkGolden, createEncoder, loadModelPackage, readGolden } from '../../src/encoder/index.js';
import { brokenPackage, type Breakage } from '../helpers/broken-package.js';

const pkg = loadModelPackage(DEFAULT_MODEL_DIR);
const golden = readGolden(pkg)!;
const withContent = golden.cases.filter((c) => c.indices.length > 0);

/** The heaviest concept of the first document case: the one a wrong weight will move. */
const doc = withContent.find((c) => c.mode === 'document')!;
const heaviest = doc.indices[doc.values.indexOf(Math.max(...doc.values))]!;

describe('golden check against broken packages', () => {
  const cleanups: (() => void)[] = [];
  afterAll(() => cleanups.forEach((c) => c()));

  async function failuresWith(b: Breakage) {
    const { dir, cleanup } = brokenPackage(DEFAULT_MODEL_DIR, b);
    cleanups.push(cleanup);
    const enc = await createEncoder({ modelDir: dir, threads: 2 });
    try {
      return await checkGolden(enc, readGolden(loadModelPackage(dir))!);
    } finally {
      await enc.close();
    }
  }

  it('the unbroken copy passes (the patching itself changes nothing)', async () => {
    expect(await failuresWith({ kind: 'weight', concept: heaviest, delta: 0 })).toEqual([]);
  });

  it('one wrong weight: a single concept bias lowered by 0.1 fails the case that uses it', async () => {
    const f = await failuresWith({ kind: 'weight', concept: heaviest, delta: -0.1 });
    expect(f.map((x) => x.case.text)).toContain(doc.text);
    expect(f.find((x) => x.case.text === doc.text)!.problems.join('\n')).toMatch(new RegExp(`concept ${heaviest}:`));
  });

  it('wrong pooling: sum instead of max over tokens fails every case with content', async () => {
    const f = await failuresWith({ kind: 'pooling' });
    expect(f.length).toBe(withContent.length);
  });

  it('tokenizer change: a cased tokenizer in front of the uncased model fails the cased texts', async () => {
    const f = await failuresWith({ kind: 'tokenizer' });
    const cased = withContent.filter((c) => c.text !== c.text.toLowerCase());
    expect(cased.length).toBeGreaterThan(0);
    expect(f.map((x) => x.case.text).sort()).toEqual(cased.map((c) => c.text).sort());
  });
});
