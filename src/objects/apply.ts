/**
 * Apply, decided without the store: documents are checked and defaulted into candidates (`prepareApply`),
 * the edge reads the keys they touch (`applyReads`), and `planApply` turns candidates and that state into
 * one guarded transaction, the per-object outcome, and every problem. Apply replaces what the user owns
 * (metadata labels and annotations, spec) with the manifest; the server owns uid, creationTimestamp,
 * resourceVersion and status, as kube-apiserver does (rest.BeforeCreate / BeforeUpdate).
 */
import type { Compare, KeyValue, TxnOp } from '../store/versioned.js';
import type { Document } from './decode.js';
import { firstDifference, isPlainObject } from './json.js';
import {
  type Allocator,
  type ObjectKind,
  type ServerFacts,
  type StoreRead,
  immutable,
  metaProblems,
  shapeProblems,
  typeName,
} from './kind.js';
import { namespaceKind } from './kinds/namespace.js';
import { checkTxnSize } from './limits.js';
import {
  type DocSource,
  type FieldProblem,
  type Problem,
  invalid,
  notFound,
  notSupported,
  required,
} from './problems.js';
import { KINDS, adoptForeign, kindOf } from './registry.js';
import { type KubeObject, fromStored, objectKey, storedValue } from './types.js';

/**
 * Namespaces that exist in every cluster. The API server's bootstrap controller creates them at start; podnet
 * has no long-running API server, so every apply that finds one missing creates it in the same transaction
 * (guarded like any create), and namespaced objects may always name them.
 */
export const SYSTEM_NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];
export const DEFAULT_NAMESPACE = 'default';

export interface Candidate {
  source: DocSource;
  kind: ObjectKind;
  key: string;
  /** The manifest's object without server-owned fields, its namespace resolved. */
  object: KubeObject;
  /** `metadata.resourceVersion` as the manifest gave it: the precondition of an update. */
  resourceVersion?: string;
  uid?: string;
  /**
   * False when the document already has problems: it is still planned far enough to find the problems that
   * need the store (a missing namespace, a duplicate), so that one run reports everything.
   */
  valid: boolean;
}

export interface ApplyOptions {
  /** `-n`: the namespace of objects that name none; objects that name another one are refused. */
  namespace?: string;
}

/** How kubectl names an object in messages and results: `pod/web`. */
export const objectRef = (k: ObjectKind, name: string) => `${typeName(k)}/${name}`;

const describe = (k: ObjectKind, o: KubeObject) =>
  `${k.kind} ${k.namespaced ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** Fields of metadata the server sets; a manifest's values for them are dropped (resourceVersion is kept apart). */
const SERVER_META = [
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'generation',
  'selfLink',
  'managedFields',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
] as const;

function withSource(source: DocSource, object: string | undefined, ps: FieldProblem[]): Problem[] {
  return ps.map((p) => ({ ...p, source, ...(object ? { object } : {}) }));
}

export function prepareApply(
  documents: Document[],
  opts: ApplyOptions = {},
): { candidates: Candidate[]; problems: Problem[] } {
  const candidates: Candidate[] = [];
  const problems: Problem[] = [];
  for (const { source, value } of documents) {
    const doc = adoptForeign(value as Record<string, unknown>);
    const missing: FieldProblem[] = [];
    if (typeof doc.apiVersion !== 'string' || doc.apiVersion === '')
      missing.push(required('apiVersion', 'set apiVersion, e.g. v1'));
    if (typeof doc.kind !== 'string' || doc.kind === '') missing.push(required('kind', 'set kind, e.g. Pod'));
    if (missing.length) {
      problems.push(...withSource(source, undefined, missing));
      continue;
    }
    const kind = kindOf(doc.apiVersion as string, doc.kind as string);
    if (!kind) {
      const p = notSupported(
        'kind',
        `${doc.apiVersion}/${doc.kind}`,
        KINDS.map((k) => `${k.apiVersion}/${k.kind}`),
      );
      p.message = `kind: no matches for kind ${JSON.stringify(doc.kind)} in version ${JSON.stringify(doc.apiVersion)}`;
      problems.push({ ...p, source });
      continue;
    }
    if (kind.derive) {
      problems.push(...withSource(source, undefined, kind.validate(doc as unknown as KubeObject)));
      continue;
    }
    const shape = shapeProblems(kind, doc);
    const meta = isPlainObject(doc.metadata) ? (doc.metadata as Record<string, unknown>) : {};
    const name = typeof meta.name === 'string' ? meta.name : '';
    const own: FieldProblem[] = [...shape];
    if (!isPlainObject(doc.metadata)) own.push(required('metadata', 'give the object metadata with a name'));
    const typesOk = !shape.some((p) => p.type !== 'FieldUnknown') && isPlainObject(doc.metadata);
    if (!typesOk) {
      problems.push(...withSource(source, name ? `${kind.kind} ${name}` : undefined, own));
      continue;
    }
    const object = userObject(kind, doc);
    const given = typeof meta.namespace === 'string' ? meta.namespace : undefined;
    if (kind.namespaced) {
      if (opts.namespace !== undefined && given !== undefined && given !== opts.namespace) {
        own.push(
          invalid(
            'metadata.namespace',
            given,
            `the namespace from the provided object "${given}" does not match the namespace "${opts.namespace}"`,
            `pass --namespace=${given} or remove metadata.namespace`,
          ),
        );
      }
      object.metadata.namespace = given ?? opts.namespace ?? DEFAULT_NAMESPACE;
    }
    own.push(...metaProblems(kind, object), ...kind.validate(kind.prepare(object, null)));
    const label = describe(kind, object);
    problems.push(...withSource(source, label, own));
    if (!object.metadata.name) continue;
    candidates.push({
      valid: own.length === 0,
      source,
      kind,
      key: objectKey(
        kind.resource,
        object.metadata.name,
        kind.namespaced ? object.metadata.namespace : undefined,
      ),
      object,
      ...(typeof meta.resourceVersion === 'string' ? { resourceVersion: meta.resourceVersion } : {}),
      ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}),
    });
  }
  return { candidates, problems };
}

function userObject(kind: ObjectKind, doc: Record<string, unknown>): KubeObject {
  const { status: _, ...rest } = doc;
  const dropped = new Set<string>([...SERVER_META, ...(kind.namespaced ? [] : ['namespace'])]);
  const metadata = Object.fromEntries(
    Object.entries(doc.metadata as Record<string, unknown>).filter(([k]) => !dropped.has(k)),
  );
  return { ...(rest as unknown as KubeObject), metadata: metadata as unknown as KubeObject['metadata'] };
}

const namespaceKey = (ns: string) => objectKey(namespaceKind.resource, ns);

/**
 * Every key a plan for `candidates` reads: the objects, the namespaces they live in, the system namespaces, and
 * what their kinds' allocators read.
 */
export function applyReads(candidates: Candidate[]): string[] {
  const keys = new Set<string>(SYSTEM_NAMESPACES.map(namespaceKey));
  for (const c of candidates) {
    keys.add(c.key);
    if (c.kind.namespaced) keys.add(namespaceKey(c.object.metadata.namespace as string));
    for (const k of c.kind.allocator?.keys ?? []) keys.add(k);
  }
  return [...keys];
}

/** The prefixes a plan for `candidates` lists: those of their kinds' allocators. */
export function applyLists(candidates: Candidate[]): string[] {
  return [...new Set(candidates.flatMap((c) => (c.valid ? (c.kind.allocator?.prefixes ?? []) : [])))];
}

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface ApplyOutcome {
  /** `pod/web`, as kubectl prints it. */
  ref: string;
  kind: string;
  name: string;
  namespace?: string;
  action: ApplyAction;
  source: DocSource;
}

/** An update whose precondition no longer holds: kubectl's "the object has been modified". */
export interface Conflict {
  ref: string;
  resource: string;
  name: string;
  source: DocSource;
  given: string;
  current: string;
}

export interface ApplyPlan {
  compares: Compare[];
  ops: TxnOp[];
  outcomes: ApplyOutcome[];
  problems: Problem[];
  conflicts: Conflict[];
}

/**
 * The transaction of an apply: a put for each created or changed object, a create for each missing system
 * namespace, and a compare on every key read (objects, namespaces relied on), so a concurrent change in
 * between fails the whole transaction. `current` holds each key of `applyReads` (null = absent).
 */
export function planApply(
  candidates: Candidate[],
  current: ReadonlyMap<string, KeyValue | null>,
  facts: () => ServerFacts,
  listed: ReadonlyMap<string, KeyValue[]> = new Map(),
  random: () => number = Math.random,
): ApplyPlan {
  const plan: ApplyPlan = { compares: [], ops: [], outcomes: [], problems: [], conflicts: [] };
  const compared = new Set<string>();
  const compare = (key: string, modRevision = current.get(key)?.modRevision ?? 0) => {
    if (compared.has(key)) return;
    compared.add(key);
    plan.compares.push({ key, modRevision });
  };
  const applied = new Map<string, DocSource>();
  const read: StoreRead = {
    get: (key) => current.get(key) ?? null,
    list: (prefix) => listed.get(prefix) ?? [],
  };
  const sessions = new Map<ObjectKind, ReturnType<Allocator['begin']>>();
  const session = (k: ObjectKind, a: Allocator) => {
    if (!sessions.has(k)) sessions.set(k, a.begin(read, random));
    return sessions.get(k) as ReturnType<Allocator['begin']>;
  };
  const problem = (c: Candidate, p: FieldProblem) =>
    plan.problems.push({ ...p, source: c.source, object: describe(c.kind, c.object) });
  for (const c of candidates) {
    const earlier = applied.get(c.key);
    if (earlier) {
      problem(c, {
        type: 'Duplicate',
        field: 'metadata.name',
        message: `metadata.name: Duplicate value: ${JSON.stringify(c.object.metadata.name)}: the same object is also in ${earlier.file}#${earlier.index}`,
        hint: 'keep one document per object in an apply',
      });
      continue;
    }
    applied.set(c.key, c.source);
    const ns = c.object.metadata.namespace;
    if (c.kind.namespaced && ns !== undefined) {
      const nsKey = namespaceKey(ns);
      if (!current.get(nsKey) && !applied.has(nsKey) && !SYSTEM_NAMESPACES.includes(ns)) {
        problem(
          c,
          notFound(
            'metadata.namespace',
            ns,
            `namespaces "${ns}" not found`,
            `create the namespace first, or put a Namespace ${ns} before this object in the same apply`,
          ),
        );
        continue;
      }
      if (current.get(nsKey)) compare(nsKey);
    }
    if (!c.valid) continue;
    const kv = current.get(c.key) ?? null;
    const old = kv ? fromStored(kv) : null;
    if (c.resourceVersion !== undefined && !old) {
      problem(
        c,
        invalid(
          'metadata.resourceVersion',
          c.resourceVersion,
          'resourceVersion should not be set on objects to be created',
          'remove metadata.resourceVersion',
        ),
      );
      continue;
    }
    if (old && c.uid !== undefined && c.uid !== old.metadata.uid) {
      problem(c, immutable('metadata.uid', c.uid));
      continue;
    }
    if (old && c.resourceVersion !== undefined && c.resourceVersion !== old.metadata.resourceVersion) {
      plan.conflicts.push({
        ref: objectRef(c.kind, c.object.metadata.name),
        resource: c.kind.resource,
        name: c.object.metadata.name,
        source: c.source,
        given: c.resourceVersion,
        current: old.metadata.resourceVersion as string,
      });
      continue;
    }
    const server = old
      ? { uid: old.metadata.uid, creationTimestamp: old.metadata.creationTimestamp }
      : facts();
    let next = c.kind.prepare({ ...c.object, metadata: { ...c.object.metadata, ...server } }, old);
    if (c.kind.allocator) {
      const a = session(c.kind, c.kind.allocator).allocate(next, old);
      if (a.problems.length) {
        for (const p of a.problems) problem(c, p);
        continue;
      }
      next = a.object;
      for (const cmp of a.compares) compare(cmp.key, cmp.modRevision);
      plan.ops.push(...a.ops);
    }
    if (old) {
      const refused = c.kind.validateUpdate(next, old);
      if (refused.length) {
        for (const p of refused) problem(c, p);
        continue;
      }
    }
    compare(c.key);
    const same =
      old !== null && firstDifference(JSON.parse(storedValue(next)), JSON.parse(kv!.value), '') === undefined;
    if (!same) plan.ops.push({ type: 'put', key: c.key, value: storedValue(next) });
    plan.outcomes.push({
      ref: objectRef(c.kind, next.metadata.name),
      kind: c.kind.kind,
      name: next.metadata.name,
      ...(c.kind.namespaced ? { namespace: next.metadata.namespace } : {}),
      action: !old ? 'created' : same ? 'unchanged' : 'configured',
      source: c.source,
    });
  }
  for (const ns of SYSTEM_NAMESPACES) {
    const key = namespaceKey(ns);
    if (current.get(key) || applied.has(key)) continue;
    compare(key);
    const created = namespaceKind.prepare(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, ...facts() } },
      null,
    );
    plan.ops.push({ type: 'put', key, value: storedValue(created) });
  }
  if (plan.problems.length === 0 && plan.conflicts.length === 0)
    checkTxnSize(plan.compares, plan.ops, 'apply');
  return plan;
}
