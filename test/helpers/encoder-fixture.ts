import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The tiny fixture package built by test/fixtures/make_fixtures.py (64 concepts, arithmetic graphs). */
export const TINY_MODEL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'tiny-model');

const made: string[] = [];

/**
 * A copy of the tiny package in a temp dir, with its manifest changed by `edit` (or replaced by a
 * raw string). Returns the directory; `cleanupFixtures()` removes them all.
 */
export function tinyVariant(edit?: ((m: Record<string, any>) => void) | string, removeFiles: string[] = []): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'saesplade-enc-'));
  made.push(dir);
  cpSync(TINY_MODEL, dir, { recursive: true });
  const mfile = path.join(dir, 'manifest.json');
  if (typeof edit === 'string') writeFileSync(mfile, edit);
  else if (edit) {
    const m = JSON.parse(readFileSync(mfile, 'utf8'));
    edit(m);
    writeFileSync(mfile, JSON.stringify(m, null, 2));
  }
  for (const f of removeFiles) rmSync(path.join(dir, f));
  return dir;
}

export function cleanupFixtures(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
