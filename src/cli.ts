#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';
import { describeCliError, exitCodeOf, isReported } from './commands/cli-errors.js';
import { EXIT_INTERRUPTED } from './errors.js';

/** The version in package.json: one level up from src/cli.ts, two from dist/src/cli.js. */
function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sae-splade-opensearch' && pkg.version) return pkg.version;
    } catch {
      /* not there: try the next */
    }
  }
  return 'unknown';
}

const program = new Command('saesplade')
  .description(
    'Concept-level learned sparse retrieval (SAE-SPLADE) for OpenSearch. Documents are queued (BullMQ on ' +
      'Redis), encoded by ONNX workers into concept weights and stored in a rank_features field; queries are ' +
      'encoded the same way and scored as a dot product by rank_feature queries. Configuration: environment ' +
      'variables (see README) and each command\'s flags.',
  )
  .version(packageVersion())
  .showHelpAfterError();

registerCommands(program);

// The CLI's edge: the one place an error becomes a line on stderr and an exit code (README, "Exit
// codes"). Commands throw; none sets process.exitCode or calls process.exit.
program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error;
  if (!isReported(err)) process.stderr.write(`error: ${describeCliError(err)}\n`);
  if (process.env.DEBUG) process.stderr.write(`${e.stack}\n`);
  const code = exitCodeOf(err);
  // A second signal: stop now, whatever handles (sockets, timers) are still open.
  if (code === EXIT_INTERRUPTED) process.exit(code);
  process.exitCode = code;
});
