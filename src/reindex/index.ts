/** Reindex: re-encode an index with another model into a new versioned index, switch an alias (docs/REINDEX.md). */
export * from './plan.js';
export * from './state.js';
export { reindexForwarder } from '../ingest/forward.js';
export { keptIndexName, replaceIndexWithAlias, ReplaceIndexError } from './replace.js';
export { upgradeIngestTarget, type UpgradeOptions, type UpgradeResult } from './upgrade.js';
export {
  ReindexError,
  aliasIndices,
  reindex,
  resolveIndices,
  rollback,
  switchAlias,
  verifyReindex,
  type ReindexOptions,
  type ReindexResult,
  type ReindexVerification,
  type RollbackResult,
} from './run-reindex.js';
