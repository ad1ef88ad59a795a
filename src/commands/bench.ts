import type { Command } from 'commander';

/**
 * The `bench` command group. Each benchmark registers a subcommand on it (`bench encoder`,
 * `bench ingest`, `bench query`); they print tables (or `--json`) and compare against a baseline
 * measured in the same run, as a ratio, because the machines are shared and noisy.
 */
export function benchGroup(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'bench');
  if (existing) return existing;
  return program.command('bench').description('measure throughput and latency (prints numbers; asserts nothing)');
}
