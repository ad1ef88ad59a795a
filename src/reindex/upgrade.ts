/**
 * `saesplade ingest --upgrade` (and scripts/quickstart.sh): when the configured index or alias was
 * built with another model, upgrade it before ingesting, by running the one `reindex` command that
 * `ingest` would otherwise ask for (src/ingest/target.ts `upgradeCommand`), with a worker in this
 * process: re-encode into `<name>-<model>-<version>`, verify, then move the alias (or replace a
 * concrete index by an alias of its name, keeping it for rollback). Nothing happens when the name
 * does not exist yet or already holds the configured model.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { modelIdentity } from '../ingest/run-ingest.js';
import { inspectIngestTarget, upgradeCommand, type IngestTarget } from '../ingest/target.js';
import { checkOpenSearch, createOpenSearchClient } from '../opensearch/client.js';
import { IndexModelMismatchError } from '../opensearch/indexes.js';
import { reindex, ReindexError, type ReindexResult } from './run-reindex.js';
import { DEFAULT_WORKER_CONCURRENCY } from '../defaults.js';

export interface UpgradeOptions {
  config: Config;
  /** Batch jobs the in-process worker runs at once (default 2). */
  concurrency?: number;
  /** Progress on stderr while re-encoding (default true). */
  progress?: boolean;
  /** Where the one-line notices go (default: nowhere). */
  say?: (line: string) => void;
  log?: Logger;
}

export interface UpgradeResult {
  target: IngestTarget;
  upgraded: boolean;
  /** The equivalent command, when an upgrade ran. */
  command?: string;
  reindex?: ReindexResult;
}

export async function upgradeIngestTarget(opts: UpgradeOptions): Promise<UpgradeResult> {
  const { config } = opts;
  const say = opts.say ?? (() => undefined);
  const model = modelIdentity(config.modelDir);
  const client = createOpenSearchClient(config);
  let target: IngestTarget;
  try {
    await checkOpenSearch(client, config.opensearchUrl);
    target = await inspectIngestTarget(client, config.index, model);
  } finally {
    await client.close();
  }
  if (target.kind === 'missing' || target.current) return { target, upgraded: false };
  if (!target.model) throw new IndexModelMismatchError(config.index, undefined, model);

  const command = upgradeCommand(target, config.modelDir);
  const what = target.kind === 'alias' ? `alias ${target.name} (over ${target.indices.join(', ')})` : `index ${target.name}`;
  say(
    `${what} holds model ${target.model.model_name}@${target.model.model_version}; the configured model is ${model.name}@${model.version}. ` +
      `Upgrading it first, as \`${command}\` does: re-encoding every document, verifying, then ` +
      (target.kind === 'alias' ? 'moving the alias.' : `replacing the index by an alias of its name (the old index is kept).`),
  );
  const r = await reindex({
    config,
    source: target.name,
    alias: target.name,
    withWorker: { concurrency: opts.concurrency ?? DEFAULT_WORKER_CONCURRENCY },
    // The alias was rolled back from that model's index earlier: its copy is stale, rebuild it.
    restart: Boolean(target.rolledBack),
    ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  if (r.status !== 'switched' && r.status !== 'already-switched') {
    throw new ReindexError(`the upgrade of ${target.name} ended ${r.status}; run \`${command}\` to finish it`);
  }
  return { target, upgraded: true, command, reindex: r };
}
