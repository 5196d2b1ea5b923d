/**
 * Cluster objects over the versioned store: the thin edge that reads what the pure cores (apply.ts,
 * delete.ts) need, commits their one transaction, and turns a failed guard into kubectl's conflict.
 */
import { randomUUID } from 'node:crypto';
import { PodnetError } from '../errors/index.js';
import type { KeyValue, TxnResult, VersionedStore } from '../store/versioned.js';
import {
  type ApplyOptions,
  type ApplyOutcome,
  type Conflict,
  applyLists,
  applyReads,
  planApply,
  prepareApply,
} from './apply.js';
import type { Decoded } from './decode.js';
import {
  type DeleteOutcome,
  type DeleteTarget,
  namespaceContentPrefixes,
  planDelete,
  planSweep,
  targetKey,
} from './delete.js';
import type { ObjectKind, ServerFacts } from './kind.js';
import { namespaceKind } from './kinds/namespace.js';
import { objectsInvalid } from './problems.js';
import { type Selector, matches } from './selector.js';
import { type KubeObject, fromStored, objectKey, objectPrefix } from './types.js';

const MODIFIED =
  'the object has been modified; please apply your changes to the latest version and try again';

function conflictError(lines: string[], details: Record<string, unknown>): PodnetError {
  return new PodnetError('ObjectConflict', lines.join('\n'), {
    field: 'metadata.resourceVersion',
    hint: 'get the object again (podnet get ... -o yaml), reapply your change to it, and apply again; nothing was changed',
    details,
  });
}

function staleConflict(conflicts: Conflict[]): PodnetError {
  return conflictError(
    conflicts.map(
      (c) =>
        `Operation cannot be fulfilled on ${c.resource} "${c.name}": ${MODIFIED} (resourceVersion ${c.given} given, ${c.current} stored)`,
    ),
    { conflicts },
  );
}

/** The guard failed: some key read for the plan changed before the commit. */
function casConflict(result: TxnResult, compares: { key: string; modRevision: number }[]): PodnetError {
  const changed = compares
    .filter((c, i) => (result.current[i]?.modRevision ?? 0) !== c.modRevision)
    .map((c) => c.key);
  return conflictError(
    changed.map(
      (key) =>
        `Operation cannot be fulfilled on ${key.replace(/^objects\//, '')}: ${MODIFIED} (it changed while this command ran)`,
    ),
    { changedKeys: changed },
  );
}

function serverFacts(): ServerFacts {
  return { uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
}

async function readKeys(store: VersionedStore, keys: string[]): Promise<Map<string, KeyValue | null>> {
  const values = await Promise.all(keys.map((k) => store.get(k)));
  return new Map(keys.map((k, i) => [k, values[i]]));
}

/** Applies decoded manifests in one transaction; refuses the whole apply on any problem or conflict. */
export async function applyDocuments(
  store: VersionedStore,
  decoded: Decoded,
  opts: ApplyOptions = {},
  facts: () => ServerFacts = serverFacts,
): Promise<ApplyOutcome[]> {
  const prepared = prepareApply(decoded.documents, opts);
  const current = await readKeys(store, applyReads(prepared.candidates));
  const prefixes = applyLists(prepared.candidates);
  const lists = await Promise.all(prefixes.map((p) => store.list(p)));
  const listed = new Map(prefixes.map((p, i) => [p, lists[i].items]));
  const plan = planApply(prepared.candidates, current, facts, listed);
  const problems = [...decoded.problems, ...prepared.problems, ...plan.problems];
  if (problems.length) throw objectsInvalid(problems);
  if (plan.conflicts.length) throw staleConflict(plan.conflicts);
  const result = await store.txn(plan.compares, plan.ops);
  if (!result.succeeded) throw casConflict(result, plan.compares);
  return plan.outcomes;
}

export async function deleteObjects(
  store: VersionedStore,
  targets: DeleteTarget[],
  ignoreNotFound: boolean,
): Promise<DeleteOutcome[]> {
  const current = await readKeys(store, targets.map(targetKey));
  const namespaces = targets
    .filter((t) => t.kind === namespaceKind && current.get(targetKey(t)))
    .map((t) => t.name);
  const contents = new Map<string, KeyValue[]>();
  for (const ns of namespaces) contents.set(ns, await namespaceContents(store, ns));
  const plan = planDelete(targets, current, contents, ignoreNotFound);
  const result = await store.txn(plan.compares, plan.ops);
  if (!result.succeeded) throw casConflict(result, plan.compares);
  const outcomes = [...plan.outcomes];
  for (const ns of namespaces) {
    const sweep = planSweep(ns, await namespaceContents(store, ns));
    if (sweep.ops.length && (await store.txn(sweep.compares, sweep.ops)).succeeded)
      outcomes.push(...sweep.outcomes);
  }
  return outcomes;
}

async function namespaceContents(store: VersionedStore, ns: string): Promise<KeyValue[]> {
  const lists = await Promise.all(namespaceContentPrefixes(ns).map((p) => store.list(p)));
  return lists.flatMap((l) => l.items);
}

function objectNotFound(kind: ObjectKind, name: string, ns: string | undefined): PodnetError {
  return new PodnetError(
    'ObjectNotFound',
    `${kind.resource} "${name}" not found${kind.namespaced ? ` in namespace ${ns}` : ''}`,
    {
      field: 'NAME',
      hint: `list what exists with podnet get ${kind.resource}${kind.namespaced ? ' -A' : ''}`,
    },
  );
}

export interface GetQuery {
  name?: string;
  /** Undefined = every namespace (`-A`); ignored for cluster-scoped kinds. */
  namespace?: string;
  selector: Selector;
}

/** The objects of `kind` a `get` asks for, sorted by namespace and name, and the revision they were read at. */
export async function getObjects(
  store: VersionedStore,
  kind: ObjectKind,
  q: GetQuery,
): Promise<{ revision: number; items: KubeObject[] }> {
  const ns = kind.namespaced ? q.namespace : undefined;
  if (kind.derive) {
    const { revision, items } = await kind.derive(store, ns);
    const found = items.filter(
      (o) => (q.name === undefined || o.metadata.name === q.name) && matches(q.selector, o.metadata.labels),
    );
    if (q.name !== undefined && !items.some((o) => o.metadata.name === q.name))
      throw objectNotFound(kind, q.name, ns);
    return { revision, items: found };
  }
  if (q.name !== undefined) {
    const kv = await store.get(objectKey(kind.resource, q.name, ns));
    if (!kv) throw objectNotFound(kind, q.name, ns);
    const obj = fromStored(kv);
    return { revision: kv.modRevision, items: matches(q.selector, obj.metadata.labels) ? [obj] : [] };
  }
  const { revision, items } = await store.list(objectPrefix(kind.resource, ns));
  return {
    revision,
    items: items.map(fromStored).filter((o) => matches(q.selector, o.metadata.labels)),
  };
}
