import type { Client } from '@opensearch-project/opensearch';
import { indexNameProblem, INDEX_NAME_RULE } from '../names.js';
import { SaespladeError } from '../errors.js';

/**
 * The guard every destructive OpenSearch call goes through (index deletion, alias removal):
 * its target must be one exact, concrete index name. A wildcard (`*`, `throw*`), a list (`a,b`),
 * `_all`, or a name that resolves to anything but itself (an alias, which may stand for several
 * indexes) is refused before anything is sent. On OpenSearch 2.x `action.destructive_requires_name`
 * is false by default, so `DELETE /*` would otherwise delete every index in the cluster. The
 * deletion itself is also sent with `expand_wildcards: none`, so that a pattern could not expand
 * even if it got past the check. See docs/RELIABILITY.md ("Data safety").
 */
export class UnsafeTargetError extends SaespladeError {
  override name = 'UnsafeTargetError';
}

function statusOf(err: unknown): number | undefined {
  return (err as { meta?: { statusCode?: number } })?.meta?.statusCode;
}

/**
 * Checks that `name` is one exact, concrete index; returns false when no index or alias of that
 * name exists, throws UnsafeTargetError (naming `what`, e.g. `--recreate`) otherwise.
 */
export async function assertConcreteIndex(client: Client, name: string, what: string): Promise<boolean> {
  const problem = typeof name === 'string' ? indexNameProblem(name) : 'it is not a string';
  if (problem) {
    throw new UnsafeTargetError(`${what}: refusing to touch ${JSON.stringify(name)}: it is not one exact index name (${problem}); ${INDEX_NAME_RULE}`);
  }
  let body: Record<string, unknown>;
  try {
    body = (await client.indices.get({ index: name, expand_wildcards: 'none' } as any)).body as Record<string, unknown>;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw err;
  }
  const resolved = Object.keys(body).sort();
  if (resolved.length === 0) return false;
  if (resolved.length !== 1 || resolved[0] !== name) {
    const list = resolved.length > 5 ? `${resolved.slice(0, 5).join(', ')}, ... (${resolved.length} in all)` : resolved.join(', ');
    throw new UnsafeTargetError(
      `${what}: refusing to touch ${JSON.stringify(name)}: it is not a concrete index but resolves to ${resolved.length === 1 ? 'the index' : `${resolved.length} indexes:`} ${list}` +
        ` (an alias?); name the index itself`,
    );
  }
  return true;
}

/**
 * Deletes the one concrete index `name`, after assertConcreteIndex. Returns false (and deletes
 * nothing) when it does not exist.
 */
export async function deleteIndexSafely(client: Client, name: string, what: string): Promise<boolean> {
  if (!(await assertConcreteIndex(client, name, what))) return false;
  try {
    await client.indices.delete({ index: name, expand_wildcards: 'none', allow_no_indices: false } as any);
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw err;
  }
  return true;
}

export type AliasAction =
  | { add: { index: string; alias: string } }
  | { remove: { index: string; alias: string } }
  | { remove_index: { index: string } };

function checkName(what: string, kind: string, role: string, n: unknown): void {
  const problem = typeof n === 'string' ? indexNameProblem(n) : 'it is not a string';
  if (problem) throw new UnsafeTargetError(`${what}: refusing to ${kind} with ${role} ${JSON.stringify(n)}: not one exact name (${problem}); ${INDEX_NAME_RULE}`);
}

/**
 * One `_aliases` call (atomic), after checking every action: each alias and index is one exact
 * name; each index it removes an alias from, and each index it deletes (`remove_index`), is a
 * concrete index. So `remove` with `alias: "*"` or `index: "*"` (which strips aliases wholesale) and
 * `remove_index` of a pattern or an alias cannot be sent.
 */
export async function updateAliasesSafely(client: Client, actions: AliasAction[], what: string): Promise<void> {
  for (const a of actions) {
    if ('remove_index' in a) {
      checkName(what, 'delete an index (remove_index)', 'index', a.remove_index.index);
      if (!(await assertConcreteIndex(client, a.remove_index.index, what))) {
        throw new UnsafeTargetError(`${what}: cannot delete ${JSON.stringify(a.remove_index.index)} (remove_index): no such index`);
      }
      continue;
    }
    const [kind, { index, alias }] = 'add' in a ? (['add an alias', a.add] as const) : (['remove an alias', a.remove] as const);
    checkName(what, kind, 'alias', alias);
    checkName(what, kind, 'index', index);
    if ('remove' in a && !(await assertConcreteIndex(client, index, what))) {
      throw new UnsafeTargetError(`${what}: cannot remove alias ${JSON.stringify(alias)} from ${JSON.stringify(index)}: no such index`);
    }
  }
  await client.indices.updateAliases({ body: { actions } } as any);
}
