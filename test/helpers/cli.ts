import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/config.js';

/** The built CLI (`npm run build` first; scripts/test.sh does). */
export const BUILT_CLI = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli.js');

/**
 * Runs the built CLI to its end (killed with SIGKILL past `timeoutMs`), LOG_LEVEL warn unless `env`
 * says otherwise; returns its exit status or signal, stdout, stderr and the time it took.
 */
export function runBuiltCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BUILT_CLI, ...args], {
    cwd: PACKAGE_ROOT,
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}
