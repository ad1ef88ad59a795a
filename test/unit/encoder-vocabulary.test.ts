/**
 * The `dictionary: "vocabulary"` contract (docs/MODEL_PACKAGE.md): dictionary_size is the tokenizer's
 * vocabulary size and the labels are its tokens. Copies of the tiny fixture package (its tokenizer is
 * bert-base-uncased's WordPiece, 30,522 tokens) with the manifest changed; the graphs are not opened.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModelPackage, ModelPackageError } from '../../src/encoder/index.js';
import { vocabularyTokens } from '../../src/encoder/package.js';

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'tiny-model');
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function variant(edit: (m: any) => void, labels?: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'saesplade-vocab-pkg-'));
  dirs.push(dir);
  cpSync(FIXTURE, dir, { recursive: true });
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  edit(m);
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  if (labels) writeFileSync(path.join(dir, 'concepts.json'), JSON.stringify({ labels }));
  return dir;
}

const tokens = vocabularyTokens(JSON.parse(readFileSync(path.join(FIXTURE, 'tokenizer.json'), 'utf8')))!;

describe('vocabulary packages', () => {
  it('reads the token table by id', () => {
    expect(tokens).toHaveLength(30522);
    expect(tokens[0]).toBe('[PAD]');
    expect(tokens[101]).toBe('[CLS]');
  });

  it('defaults to concepts, and a concept package keeps its own labels', () => {
    expect(loadModelPackage(FIXTURE).manifest.dictionary).toBe('concepts');
  });

  it('takes the tokens as labels when the package has no concepts.json', () => {
    const pkg = loadModelPackage(variant((m) => Object.assign(m, { dictionary: 'vocabulary', dictionary_size: 30522, concepts: null })));
    expect(pkg.labels).toEqual(tokens);
    expect(pkg.identity.dictionarySize).toBe(30522);
  });

  it('accepts labels equal to the tokens and refuses others', () => {
    const ok = variant((m) => Object.assign(m, { dictionary: 'vocabulary', dictionary_size: 30522 }), tokens);
    expect(loadModelPackage(ok).labels![2540]).toBe('heart');
    const bad = [...tokens];
    bad[2540] = 'cardiac';
    const dir = variant((m) => Object.assign(m, { dictionary: 'vocabulary', dictionary_size: 30522 }), bad);
    expect(() => loadModelPackage(dir)).toThrow(/label 2540 is 'cardiac', token 2540 is 'heart'/);
  });

  it('refuses a dictionary size other than the vocabulary size', () => {
    const dir = variant((m) => Object.assign(m, { dictionary: 'vocabulary', concepts: null }));
    expect(() => loadModelPackage(dir)).toThrow(ModelPackageError);
    expect(() => loadModelPackage(dir)).toThrow(/dictionary_size = 64, but .* has 30522 tokens/);
  });

  it('refuses an unknown dictionary kind', () => {
    expect(() => loadModelPackage(variant((m) => (m.dictionary = 'words')))).toThrow(/dictionary/);
  });
});
