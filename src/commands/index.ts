import type { Command } from 'commander';

/**
 * One module per command under src/commands/, each exporting `register(program)`. Keep this file a
 * plain list: the command modules are thin wrappers over one library function each.
 */
export function registerCommands(program: Command): void {
  void program;
}
