/**
 * Delete, decided without the store. One invocation is one transaction: every named object is deleted, or
 * nothing is. Deleting a namespace deletes every object in it in the same transaction (kube-apiserver does it
 * later, through the Terminating phase and the namespace controller; podnet has no controller, and doing it at
 * once leaves no window in which a namespace is half gone). `default`, `kube-system` and `kube-public` may not
 * be deleted, as the NamespaceLifecycle admission plugin refuses it.
 */
import { PodnetError } from '../errors/index.js';
import type { Compare, KeyValue, TxnOp } from '../store/versioned.js';
import { DEFAULT_NAMESPACE } from './apply.js';
import type { Document } from './decode.js';
import { type ObjectKind, typeName } from './kind.js';
import { namespaceKind } from './kinds/namespace.js';
import { checkTxnSize } from './limits.js';
import { type Problem, notSupported, required } from './problems.js';
import { KINDS, adoptForeign, kindOf } from './registry.js';
import { objectKey, objectPrefix } from './types.js';

export const UNDELETABLE_NAMESPACES = ['default', 'kube-public', 'kube-system'];

export interface DeleteTarget {
  kind: ObjectKind;
  name: string;
  /** Set for namespaced kinds. */
  namespace?: string;
}

export interface DeleteOutcome {
  kind: string;
  name: string;
  namespace?: string;
  /** kubectl's line: `pod "web" deleted`. */
  text: string;
  /** Deleted because its namespace was. */
  cascaded: boolean;
}

export interface DeletePlan {
  compares: Compare[];
  ops: TxnOp[];
  outcomes: DeleteOutcome[];
}

export const targetKey = (t: DeleteTarget) =>
  objectKey(t.kind.resource, t.name, t.kind.namespaced ? t.namespace : undefined);

/** The prefixes to list for a namespace's contents: one per namespaced kind. */
export function namespaceContentPrefixes(ns: string): string[] {
  return KINDS.filter((k) => k.namespaced).map((k) => objectPrefix(k.resource, ns));
}

/** A plan being built: each key deleted once, with a compare on the revision it was read at. */
function builder() {
  const plan: DeletePlan = { compares: [], ops: [], outcomes: [] };
  const done = new Set<string>();
  const remove = (
    kv: KeyValue,
    kind: ObjectKind,
    name: string,
    namespace: string | undefined,
    cascaded: boolean,
  ) => {
    if (done.has(kv.key)) return;
    done.add(kv.key);
    plan.compares.push({ key: kv.key, modRevision: kv.modRevision });
    plan.ops.push({ type: 'delete', key: kv.key });
    plan.outcomes.push({
      kind: kind.kind,
      name,
      ...(namespace === undefined ? {} : { namespace }),
      text: `${typeName(kind)} "${name}" deleted${cascaded ? ` (in namespace ${namespace})` : ''}`,
      cascaded,
    });
  };
  const removeContents = (ns: string, items: KeyValue[]) => {
    for (const item of items) {
      const kind = KINDS.find((k) => k.namespaced && item.key.startsWith(objectPrefix(k.resource, ns)));
      if (kind) remove(item, kind, item.key.slice(objectPrefix(kind.resource, ns).length), ns, true);
    }
  };
  return { plan, remove, removeContents };
}

/**
 * `current` holds each target's key (null = absent); `contents` the objects in each namespace being deleted.
 * Missing objects are `ObjectNotFound` (all named at once) unless `ignoreNotFound`.
 */
export function planDelete(
  targets: DeleteTarget[],
  current: ReadonlyMap<string, KeyValue | null>,
  contents: ReadonlyMap<string, KeyValue[]>,
  ignoreNotFound: boolean,
): DeletePlan {
  const { plan, remove, removeContents } = builder();
  const missing: DeleteTarget[] = [];
  for (const t of targets) {
    if (t.kind === namespaceKind && UNDELETABLE_NAMESPACES.includes(t.name)) {
      throw new PodnetError(
        'NamespaceUndeletable',
        `namespaces "${t.name}" is forbidden: this namespace may not be deleted`,
        {
          field: 'NAME',
          hint: 'delete the objects in it instead',
        },
      );
    }
    const kv = current.get(targetKey(t)) ?? null;
    if (!kv) {
      missing.push(t);
      continue;
    }
    remove(kv, t.kind, t.name, t.namespace, false);
    if (t.kind === namespaceKind) removeContents(t.name, contents.get(t.name) ?? []);
  }
  if (missing.length && !ignoreNotFound) {
    const lines = missing.map(
      (t) => `${t.kind.resource} "${t.name}" not found${t.namespace ? ` in namespace ${t.namespace}` : ''}`,
    );
    throw new PodnetError('ObjectNotFound', `${lines.join('; ')}; nothing was deleted`, {
      field: 'NAME',
      hint: `check the name and the namespace (podnet get ${missing[0].kind.resource}${missing[0].kind.namespaced ? ' -A' : ''}), or pass --ignore-not-found`,
      details: { missing: missing.map((t) => ({ kind: t.kind.kind, name: t.name, namespace: t.namespace })) },
    });
  }
  checkTxnSize(plan.compares, plan.ops, 'delete');
  return plan;
}

/** `delete -f`: the objects the documents name (kind, name, namespace), without checking the rest of them. */
export function deleteTargetsOf(
  documents: Document[],
  namespace: string | undefined,
): { targets: DeleteTarget[]; problems: Problem[] } {
  const targets: DeleteTarget[] = [];
  const problems: Problem[] = [];
  for (const { source, value } of documents) {
    const doc = adoptForeign(value as Record<string, unknown>) as {
      apiVersion?: unknown;
      kind?: unknown;
      metadata?: { name?: unknown; namespace?: unknown };
    };
    const kind =
      typeof doc.apiVersion === 'string' && typeof doc.kind === 'string'
        ? kindOf(doc.apiVersion, doc.kind)
        : undefined;
    const name = doc.metadata?.name;
    if (!kind) {
      problems.push({
        ...notSupported(
          'kind',
          `${doc.apiVersion}/${doc.kind}`,
          KINDS.map((k) => `${k.apiVersion}/${k.kind}`),
        ),
        source,
      });
      continue;
    }
    if (typeof name !== 'string' || name === '') {
      problems.push({ ...required('metadata.name', 'name the object to delete'), source });
      continue;
    }
    const given = typeof doc.metadata?.namespace === 'string' ? doc.metadata.namespace : undefined;
    targets.push({
      kind,
      name,
      ...(kind.namespaced ? { namespace: given ?? namespace ?? DEFAULT_NAMESPACE } : {}),
    });
  }
  return { targets, problems };
}

/**
 * A delete's guard covers the keys it read, not keys created after its list: an apply that put an object into
 * the namespace between that list and the commit would leave it behind. So once the namespace is gone, its
 * leftovers are deleted in one more transaction guarded on the namespace still being absent (a namespace
 * created again under the same name in between keeps its objects). No apply can add to a namespace that does
 * not exist, so one sweep is enough.
 */
export function planSweep(namespace: string, leftovers: KeyValue[]): DeletePlan {
  const { plan, removeContents } = builder();
  removeContents(namespace, leftovers);
  if (plan.ops.length)
    plan.compares.unshift({ key: objectKey(namespaceKind.resource, namespace), modRevision: 0 });
  return plan;
}
