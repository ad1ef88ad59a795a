import type { EncodeMode, Encoder } from '../encoder/types.js';
import type { SparseVector } from '../sparse.js';

/**
 * Wraps an encoder so that `encode` calls run one at a time, in call order. A worker runs two
 * batch jobs at once (concurrency 2) so that one job's mget/bulk-index I/O overlaps the other's
 * encoding; serialising the encoder keeps the two from splitting the CPU threads between them
 * (which is slower than taking turns) while still hiding the I/O behind the encoding.
 */
export function serialEncoder(encoder: Encoder): Encoder & { busyMs(): number } {
  let tail: Promise<unknown> = Promise.resolve();
  let busy = 0;
  const timed = async (texts: string[], mode: EncodeMode) => {
    const t = performance.now();
    try {
      return await encoder.encode(texts, mode);
    } finally {
      busy += performance.now() - t;
    }
  };
  return {
    /** Time spent inside the wrapped encoder's `encode` (not waiting for a turn), ms. */
    busyMs: () => Math.round(busy),
    get model() {
      return encoder.model;
    },
    encode(texts: string[], mode: EncodeMode): Promise<SparseVector[]> {
      const run = tail.then(() => timed(texts, mode));
      tail = run.catch(() => undefined);
      return run;
    },
    stats: () => encoder.stats(),
    label: (id: number) => encoder.label(id),
    close: () => encoder.close(),
  };
}
