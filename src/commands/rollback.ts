import type { Command } from 'commander';
import { rollback } from '../reindex/index.js';
import { configFrom, emit, withConfigOptions } from './common.js';
import { indexNameOption } from './options.js';

/** `saesplade rollback --alias <name>`: move an alias back to the index it pointed to before the last reindex. */
export function register(program: Command): void {
  withConfigOptions(
    program
      .command('rollback')
      .description('move an alias back to the index it pointed to before the last reindex switch')
      .requiredOption('--alias <name>', 'the alias to move back', indexNameOption('--alias'))
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: Record<string, any>) => {
    const res = await rollback({ config: configFrom(opts), alias: opts.alias });
    emit(opts.json, res, () => `alias ${res.alias}: ${res.from} → ${res.to.join(', ')} (${res.from} kept)`);
  });
}
