/**
 * What a kind of cluster object declares, so that the decoder, apply, get and delete need no per-kind code:
 * its API identity, how kubectl names it, its scope, its schema, its validation and server-side defaults,
 * and its table columns. A new kind is one file under kinds/ plus one line in registry.ts.
 */
import type { Compare, KeyValue, TxnOp, VersionedStore } from '../store/versioned.js';
import type { FieldProblem } from './problems.js';
import { duplicate, invalid, invalids, required, tooLong } from './problems.js';
import { type Schema, checkSchema, objectMeta } from './schema.js';
import type { KubeObject } from './types.js';
import {
  ANNOTATIONS_MAX_BYTES,
  isDns1123Label,
  isDns1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
} from './validation.js';

export interface Column {
  header: string;
  /** Shown only with `-o wide`. */
  wide?: boolean;
  value: (obj: KubeObject, now: Date) => string;
}

/** What the API server fills in on create: supplied by the caller so that the cores stay pure. */
export interface ServerFacts {
  uid: string;
  /** RFC 3339 to the second, as metav1.Time marshals. */
  creationTimestamp: string;
}

export interface ObjectKind {
  apiVersion: string;
  kind: string;
  /** Plural, group-qualified when not core (`pods`, `networkpolicies.networking.k8s.io`): the store key part. */
  resource: string;
  /** Other words `podnet get` takes: the singular, short names (`pod`, `po`). */
  aliases: string[];
  namespaced: boolean;
  /** The rule for metadata.name: pods are DNS-1123 subdomains, namespaces DNS-1123 labels, Azure's own. */
  nameRule: NameRule;
  /**
   * A document in the shape users have for this kind when it is not Kubernetes' (an `az ... show -o json`
   * resource, with no apiVersion or kind): the object it is, or undefined when the document is not one.
   */
  adopt?: (doc: Record<string, unknown>) => Record<string, unknown> | undefined;
  /** The fields besides apiVersion, kind and metadata (`spec`, `status`, ...). */
  fields: Record<string, Schema>;
  /** ValidateXxx of pkg/apis/core/validation, on the defaulted object, beyond the common metadata rules. */
  validate: (obj: KubeObject) => FieldProblem[];
  /** ValidateXxxUpdate: what may not change once created. */
  validateUpdate: (next: KubeObject, old: KubeObject) => FieldProblem[];
  /**
   * Server-side defaults (pkg/apis/core/v1/defaults.go) and the registry strategy's PrepareForCreate /
   * PrepareForUpdate: status is the server's, so a new object gets its initial status and an update keeps the
   * stored one.
   */
  prepare: (obj: KubeObject, old: KubeObject | null) => KubeObject;
  /** What the server allocates for the kind inside the apply's transaction (a Service's cluster IP). */
  allocator?: Allocator;
  /**
   * A kind podnet derives instead of storing (EndpointSlices, from Services and pod endpoints): how `get` reads
   * it. Such a kind is not applied.
   */
  derive?: (
    store: VersionedStore,
    namespace: string | undefined,
  ) => Promise<{ revision: number; items: KubeObject[] }>;
  columns: Column[];
}

/** What an apply read before planning: exact keys (null = absent) and the contents of listed prefixes. */
export interface StoreRead {
  get(key: string): KeyValue | null;
  list(prefix: string): KeyValue[];
}

/**
 * Server-side allocation (a Service's cluster IP and node ports, as the API server's registry makes them): the
 * keys and prefixes it reads, and one apply's session, which sees what earlier objects of the apply took and
 * returns the guarded writes that make two concurrent applies unable to take the same thing.
 */
export interface Allocator {
  keys: string[];
  prefixes: string[];
  begin(
    read: StoreRead,
    random: () => number,
  ): {
    allocate(
      next: KubeObject,
      old: KubeObject | null,
    ): { object: KubeObject; compares: Compare[]; ops: TxnOp[]; problems: FieldProblem[] };
  };
}

/** How kubectl prints an object's type: `pod`, `networkpolicy.networking.k8s.io`. */
export function typeName(k: ObjectKind): string {
  const group = k.apiVersion.includes('/') ? k.apiVersion.split('/')[0] : '';
  return `${k.kind.toLowerCase()}${group ? `.${group}` : ''}`;
}

/** The schema of a whole object of kind `k`. */
export function objectSchema(k: ObjectKind): Schema {
  return {
    type: 'object',
    fields: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: objectMeta, ...k.fields },
  };
}

export type NameRule = 'subdomain' | 'label' | 'azure';

// Azure resource names (NSGs, NICs): 1-80 letters, digits, '_', '.' or '-', starting with a letter or digit and
// ending with one or '_' (learn.microsoft.com, "Naming rules and restrictions for Azure resources").
const AZURE_NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;

export function nameProblems(value: string, rule: NameRule, field: string): FieldProblem[] {
  if (rule === 'azure')
    return AZURE_NAME.test(value)
      ? []
      : [
          invalid(
            field,
            value,
            'an Azure resource name is 1-80 letters, digits, underscores, periods or hyphens, starting with a letter or digit and ending with one or an underscore',
            'use the name az prints for the resource (e.g. aks-agentpool-nsg)',
          ),
        ];
  const msgs = rule === 'label' ? isDns1123Label(value) : isDns1123Subdomain(value);
  return invalids(
    field,
    value,
    msgs,
    rule === 'label'
      ? "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. team-a)"
      : "use lower-case letters, digits, '-' and '.', at most 253, starting and ending with a letter or digit (e.g. web-1)",
  );
}

const LABEL_HINT =
  "keys are [prefix/]name: an optional DNS subdomain prefix and a name of at most 63 letters, digits, '-', '_' or '.' (e.g. app.kubernetes.io/name)";

/** ValidateObjectMeta's rules that every kind shares: name, namespace, labels, annotations. */
export function metaProblems(k: ObjectKind, obj: KubeObject): FieldProblem[] {
  const m = obj.metadata;
  const out: FieldProblem[] = [];
  if (!m.name) out.push(required('metadata.name', 'give the object a name'));
  else out.push(...nameProblems(m.name, k.nameRule, 'metadata.name'));
  if (k.namespaced && m.namespace !== undefined)
    out.push(...nameProblems(m.namespace, 'label', 'metadata.namespace'));
  for (const [key, value] of Object.entries(m.labels ?? {})) {
    out.push(...invalids('metadata.labels', key, isQualifiedName(key), LABEL_HINT));
    out.push(
      ...invalids(
        'metadata.labels',
        value,
        isValidLabelValue(value),
        "values are empty or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
      ),
    );
  }
  let bytes = 0;
  for (const [key, value] of Object.entries(m.annotations ?? {})) {
    out.push(...invalids('metadata.annotations', key, isQualifiedName(key.toLowerCase()), LABEL_HINT));
    bytes += key.length + value.length;
  }
  if (bytes > ANNOTATIONS_MAX_BYTES) {
    out.push(tooLong('metadata.annotations', ANNOTATIONS_MAX_BYTES, 'keep large data out of annotations'));
  }
  return out;
}

/** Shape problems first; the rules only run on a document whose types are right. */
export function shapeProblems(k: ObjectKind, doc: unknown): FieldProblem[] {
  return checkSchema(doc, objectSchema(k), '');
}

/** ValidateImmutableField: `field` changed to `value` on an update. */
export function immutable(field: string, value: unknown): FieldProblem {
  return invalid(field, value, 'field is immutable', 'delete the object and create it again to change this');
}

/** Duplicate names among `names`, reported at `fieldOf(i)`. */
export function duplicates(
  names: (string | undefined)[],
  fieldOf: (i: number) => string,
  hint: string,
): FieldProblem[] {
  const seen = new Set<string>();
  const out: FieldProblem[] = [];
  names.forEach((n, i) => {
    if (n === undefined || n === '') return;
    if (seen.has(n)) out.push(duplicate(fieldOf(i), n, hint));
    seen.add(n);
  });
  return out;
}

/** kubectl's AGE: k8s.io/apimachinery/pkg/util/duration HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.trunc(hours / 24)}d${hours % 24}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 365 * 2) return `${days}d`;
  if (hours < 24 * 365 * 8)
    return days % 365 === 0 ? `${Math.trunc(days / 365)}y` : `${Math.trunc(days / 365)}y${days % 365}d`;
  return `${Math.trunc(days / 365)}y`;
}

export const ageColumn: Column = {
  header: 'AGE',
  value: (o, now) =>
    o.metadata.creationTimestamp
      ? humanDuration(now.getTime() - Date.parse(o.metadata.creationTimestamp))
      : '<unknown>',
};
