/**
 * The worker pool from compiled JavaScript (what `npm run build` ships in dist/): the encoder
 * sources are compiled into .run/encoder-dist-test/ and a child `node` process starts a pool of
 * workers from there (worker.js, no tsx), then checks the tiny fixture's golden vectors.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { TINY_MODEL } from '../helpers/encoder-fixture.js';

const out = path.join(PACKAGE_ROOT, '.run', 'encoder-dist-test');

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('encoder worker pool from compiled JavaScript', () => {
  it('starts worker.js and matches the golden vectors', () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const tsc = path.join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(process.execPath, [tsc, '--outDir', out, '--rootDir', PACKAGE_ROOT, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', '--esModuleInterop', '--resolveJsonModule', path.join(PACKAGE_ROOT, 'src', 'encoder', 'index.ts'), path.join(PACKAGE_ROOT, 'src', 'encoder', 'worker.ts')], { stdio: 'pipe' });
    const index = pathToFileURL(path.join(out, 'src', 'encoder', 'index.js')).href;
    const script = path.join(out, 'check.mjs');
    writeFileSync(
      script,
      `import { createEncoder, checkGolden, readGolden, loadModelPackage } from ${JSON.stringify(index)};
       const dir = ${JSON.stringify(TINY_MODEL)};
       const enc = await createEncoder({ modelDir: dir, workers: 2, threads: 2 });
       const failures = await checkGolden(enc, readGolden(loadModelPackage(dir)));
       const stats = enc.stats();
       await enc.close();
       console.log(JSON.stringify({ failures: failures.length, texts: stats.texts, workers: 2 }));`,
    );
    const res = execFileSync(process.execPath, [script], { encoding: 'utf8', cwd: out });
    expect(JSON.parse(res.trim().split('\n').at(-1)!)).toEqual({ failures: 0, texts: 5, workers: 2 });
  });
});
