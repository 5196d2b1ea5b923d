/**
 * The kinds podnet stores. Adding one is a file under kinds/ and a line here; nothing else in apply, get or
 * delete names a kind.
 */
import { PodnetError } from '../errors/index.js';
import type { ObjectKind } from './kind.js';
import { nicKind, nsgKind } from './kinds/azure.js';
import { endpointSliceKind, endpointsKind } from './kinds/endpoints.js';
import { namespaceKind } from './kinds/namespace.js';
import { networkPolicyKind } from './kinds/networkpolicy.js';
import { podKind } from './kinds/pod.js';
import { serviceKind } from './kinds/service.js';

export const KINDS: readonly ObjectKind[] = [
  namespaceKind,
  podKind,
  networkPolicyKind,
  serviceKind,
  nsgKind,
  nicKind,
];

/** A document no kind names (no apiVersion, no kind) in the shape one kind adopts (`az ... -o json`), as that kind's object. */
export function adoptForeign(doc: Record<string, unknown>): Record<string, unknown> {
  for (const k of KINDS) {
    const adopted = k.adopt?.(doc);
    if (adopted) return adopted;
  }
  return doc;
}

/** Kinds podnet derives on read (`derive`) and never stores: `get` shows them, apply refuses them. */
export const DERIVED_KINDS: readonly ObjectKind[] = [endpointSliceKind, endpointsKind];

/** The kind of a document's apiVersion and kind, or undefined when podnet does not know it. */
export function kindOf(apiVersion: string, kind: string): ObjectKind | undefined {
  return [...KINDS, ...DERIVED_KINDS].find((k) => k.apiVersion === apiVersion && k.kind === kind);
}

/**
 * The kind a `podnet get`/`delete` word names, as kubectl resolves it: the plural, the singular, a short name,
 * the kind itself, case-insensitively, optionally group-qualified (`networkpolicies.networking.k8s.io`).
 */
export function resolveResource(word: string): ObjectKind {
  const w = word.toLowerCase();
  const found = [...KINDS, ...DERIVED_KINDS].find((k) => {
    const group = k.apiVersion.includes('/') ? `.${k.apiVersion.split('/')[0]}` : '';
    const base = k.resource.replace(group, '');
    const names = [base, k.kind.toLowerCase(), ...k.aliases];
    return names.some((n) => n === w || (group && `${n}${group}` === w));
  });
  if (found) return found;
  throw new PodnetError('UnknownResourceType', `the server doesn't have a resource type "${word}"`, {
    field: 'KIND',
    hint: `known types: ${[...KINDS, ...DERIVED_KINDS].map((k) => [k.resource, ...k.aliases].join('|')).join(', ')}`,
  });
}
