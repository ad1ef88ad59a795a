/**
 * The encoder worker pool when a thread dies (real worker threads, the real tiny fixture model):
 * a thread that exits is replaced and encoding goes on; when no thread can be started again (the
 * model files are gone), waiting and later calls fail with EncoderUnavailableError instead of
 * waiting forever (before: a terminated thread was never replaced, and every call hung).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { EncoderUnavailableError, WorkerPoolEncoder } from '../../src/encoder/pool.js';

const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'tiny-model');
let pool: WorkerPoolEncoder | undefined;
let dir: string | undefined;

afterEach(async () => {
  await pool?.close();
  pool = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function copyModel(): string {
  dir = mkdtempSync(path.join(tmpdir(), 'saesplade-pool-'));
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

const threadOf = (p: WorkerPoolEncoder) => (p as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0]!.worker;

async function until(check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('encoder worker pool: a thread that dies', () => {
  it('is replaced, and encoding gives the same vectors after', async () => {
    pool = await WorkerPoolEncoder.create({ modelDir: copyModel(), workers: 1, threads: 1 });
    const [before] = await pool.encode(['a small test text'], 'document');
    await threadOf(pool).terminate();
    await until(() => pool!.workers === 1 && threadOf(pool!) !== undefined);
    const [after] = await pool.encode(['a small test text'], 'document');
    expect([...after!.indices]).toEqual([...before!.indices]);
    expect([...after!.values]).toEqual([...before!.values]);
  }, 60_000);

  it('fails waiting and later calls with EncoderUnavailableError when no thread can be started again', async () => {
    const modelDir = copyModel();
    pool = await WorkerPoolEncoder.create({ modelDir, workers: 1, threads: 1 });
    await pool.encode(['warm'], 'document');
    rmSync(path.join(modelDir, 'document.onnx')); // the replacement thread cannot load the model
    rmSync(path.join(modelDir, 'manifest.json'));
    const t0 = Date.now();
    await threadOf(pool).terminate();
    const waiting = pool.encode(['queued while the thread is gone'], 'document');
    await expect(waiting).rejects.toBeInstanceOf(EncoderUnavailableError);
    await expect(pool.encode(['later'], 'query')).rejects.toThrow(/every encoder worker thread is gone and none could be restarted/);
    console.log(JSON.stringify({ test: 'encoder-pool-respawn', failedAfterMs: Date.now() - t0 }));
  }, 60_000);
});
