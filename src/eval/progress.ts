import cliProgress from 'cli-progress';

export interface CountProgress {
  increment(): void;
  stop(): void;
}

/**
 * Progress of a counted loop on stderr: a cli-progress bar on a TTY, otherwise a plain line every
 * `plainEveryMs` (default 10 s) and one at the end, so that logs of non-interactive runs stay readable.
 */
export function countProgress(label: string, total: number, opts: { tty?: boolean; stream?: NodeJS.WriteStream; plainEveryMs?: number } = {}): CountProgress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const start = Date.now();
  let done = 0;
  if (tty) {
    const bar = new cliProgress.SingleBar(
      { stream, format: `${label} |{bar}| {value}/{total} | {rate}/s | ETA {eta_formatted}`, etaBuffer: 50, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: 0 });
    return {
      increment() {
        done++;
        bar.update(done, { rate: (done / Math.max((Date.now() - start) / 1000, 1e-3)).toFixed(1) });
      },
      stop: () => bar.stop(),
    };
  }
  const every = opts.plainEveryMs ?? 10_000;
  let last = start;
  const line = () => {
    const s = (Date.now() - start) / 1000;
    stream.write(`${label}: ${done}/${total}, ${(done / Math.max(s, 1e-3)).toFixed(1)}/s, ${Math.round(s)} s\n`);
  };
  return {
    increment() {
      done++;
      const now = Date.now();
      if (now - last >= every && done < total) {
        last = now;
        line();
      }
    },
    stop: line,
  };
}
