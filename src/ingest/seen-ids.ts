import { createHash } from 'node:crypto';

/**
 * The ids already read from one source, each with the line that first had it, so a later line
 * with the same id can be refused as `duplicate_id` naming that line (issue 17: a source with one
 * id twice used to be counted twice and the later line silently replaced the first).
 *
 * Memory is bounded by the number of distinct ids, not their length: each id is kept as a 64-bit
 * hash (the first 8 bytes of its SHA-1) and a 32-bit line number in an open-addressing table
 * held at most 3/4 full, so 12 bytes per slot and at most 16 bytes per id before a doubling, ~32
 * just after it: 1 million ids take 16–32 MB, 10 million 160–320 MB. The cost of not keeping the
 * ids themselves: two different ids whose hashes collide are taken for one; with n ids that
 * happens with probability about n² / 2^65 (3 in a million for 10 million ids).
 */
export class SeenIds {
  private hi: Uint32Array;
  private lo: Uint32Array;
  /** 0 = empty slot; else the 1-based line number of the id's first line. */
  private lines: Uint32Array;
  private used = 0;

  constructor(initialSlots = 1024) {
    let n = 16;
    while (n < initialSlots) n *= 2;
    this.hi = new Uint32Array(n);
    this.lo = new Uint32Array(n);
    this.lines = new Uint32Array(n);
  }

  get size(): number {
    return this.used;
  }

  /**
   * Records `id` as first seen on `line` (1-based), or returns the line that first had it. Line
   * numbers past 2^32 − 1 are stored saturated (the id is still remembered).
   */
  firstLineOf(id: string, line: number): number | undefined {
    const h = createHash('sha1').update(id, 'utf8').digest();
    const hi = h.readUInt32BE(0);
    const lo = h.readUInt32BE(4);
    const mask = this.lines.length - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const at = this.lines[i]!;
      if (at === 0) break;
      if (this.hi[i] === hi && this.lo[i] === lo) return at;
    }
    if ((this.used + 1) * 4 > this.lines.length * 3) this.grow();
    this.put(hi, lo, Math.min(Math.max(1, line), 0xffffffff));
    this.used++;
    return undefined;
  }

  private put(hi: number, lo: number, line: number): void {
    const mask = this.lines.length - 1;
    let i = lo & mask;
    while (this.lines[i] !== 0) i = (i + 1) & mask;
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.lines[i] = line;
  }

  private grow(): void {
    const { hi, lo, lines } = this;
    const n = lines.length * 2;
    this.hi = new Uint32Array(n);
    this.lo = new Uint32Array(n);
    this.lines = new Uint32Array(n);
    for (let i = 0; i < lines.length; i++) if (lines[i] !== 0) this.put(hi[i]!, lo[i]!, lines[i]!);
  }
}
