import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { ENV_VARS, PACKAGE_ROOT, type Config } from '../config.js';

/**
 * How to run this package's CLI in a child process: the built `dist/src/cli.js` when running from
 * dist, else the TypeScript `src/cli.ts` through tsx's loader (dev dependency; vitest, tsx).
 */
export function cliInvocation(): { command: string; args: string[] } {
  const fromTs = import.meta.url.endsWith('.ts');
  if (!fromTs) return { command: process.execPath, args: [path.join(PACKAGE_ROOT, 'dist', 'src', 'cli.js')] };
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const cli = path.join(PACKAGE_ROOT, 'src', 'cli.ts');
  if (!existsSync(cli)) throw new Error(`cannot find ${cli}`);
  return { command: process.execPath, args: ['--import', tsx, cli] };
}

/** The environment that gives a child process this config (flags of the child still win). */
export function configEnv(config: Config): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, name] of Object.entries(ENV_VARS) as [keyof Config, string][]) {
    const v = config[key];
    if (v !== undefined) env[name] = String(v);
  }
  return env;
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves when the worker printed `{"event":"ready"}`; rejects if it exits first. */
  ready: Promise<void>;
  /** Resolves with the worker's closing summary (`{"event":"closed",...}`), or undefined if it died. */
  closed: Promise<Record<string, any> | undefined>;
}

/** Starts `saesplade worker --json` as a child process with the given config and extra flags. */
export function spawnWorker(config: Config, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): WorkerProcess {
  const { command, args } = cliInvocation();
  const child = spawn(command, [...args, 'worker', '--json', ...extraArgs], {
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...configEnv(config), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let onReady!: () => void;
  let onFail!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    onReady = res;
    onFail = rej;
  });
  let summary: Record<string, any> | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const msg = JSON.parse(line);
      if (msg.event === 'ready') onReady();
      if (msg.event === 'closed') summary = msg;
    } catch {
      /* not ours */
    }
  });
  const closed = new Promise<Record<string, any> | undefined>((res) => {
    child.on('exit', (code, signal) => {
      onFail(new Error(`worker exited before it was ready (code ${code}, signal ${signal})`));
      res(summary);
    });
  });
  return { child, ready, closed };
}
