#!/usr/bin/env node
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';
import { describeCliError, exitCodeOf } from './commands/cli-errors.js';

const program = new Command('saesplade')
  .description(
    'Concept-level learned sparse retrieval (SAE-SPLADE) for OpenSearch. Documents are queued (BullMQ on ' +
      'Redis), encoded by ONNX workers into concept weights and stored in a rank_features field; queries are ' +
      'encoded the same way and scored as a dot product by rank_feature queries. Configuration: environment ' +
      'variables (see README) and each command\'s flags.',
  )
  .version('0.1.0')
  .showHelpAfterError();

registerCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error;
  process.stderr.write(`error: ${describeCliError(err)}\n`);
  if (process.env.DEBUG) process.stderr.write(`${e.stack}\n`);
  process.exitCode = exitCodeOf(err);
});
