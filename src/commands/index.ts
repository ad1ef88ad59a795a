import type { Command } from 'commander';
import * as doctor from './doctor.js';
import * as ingest from './ingest.js';
import * as worker from './worker.js';
import * as status from './status.js';
import * as failed from './failed.js';
import * as benchIngest from './bench-ingest.js';
import * as search from './search.js';
import * as encode from './encode.js';
import * as benchEncoder from './bench-encoder.js';
import * as reindex from './reindex.js';
import * as rollback from './rollback.js';
import * as evalCmd from './eval.js';
import * as serve from './serve.js';
import * as benchCompat from './bench-compat.js';
import * as adapt from './adapt.js';
import * as benchScale from './bench-scale.js';

/**
 * One module per command under src/commands/, each exporting `register(program)`. Keep this file a
 * plain list: the command modules are thin wrappers over one library function each.
 */
export function registerCommands(program: Command): void {
  doctor.register(program);
  ingest.register(program);
  worker.register(program);
  status.register(program);
  failed.register(program);
  benchIngest.register(program);
  search.register(program);
  encode.register(program);
  benchEncoder.register(program);
  reindex.register(program);
  rollback.register(program);
  evalCmd.register(program);
  serve.register(program);
  benchCompat.register(program);
  adapt.register(program);
  benchScale.register(program);
}
