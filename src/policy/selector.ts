/**
 * Label selector semantics (k8s.io/apimachinery `metav1.LabelSelector`): every `matchLabels` pair and every
 * `matchExpressions` requirement must hold (AND); an empty selector matches everything. `NotIn` and
 * `DoesNotExist` hold for objects that lack the key.
 */
import type { LabelSelector, LabelSelectorRequirement } from './types.js';

export function requirementHolds(r: LabelSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.operator) {
    case 'In':
      return has && (r.values ?? []).includes(labels[r.key]);
    case 'NotIn':
      return !has || !(r.values ?? []).includes(labels[r.key]);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

export function selectorMatches(s: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  return (s.matchExpressions ?? []).every((r) => requirementHolds(r, labels));
}

/**
 * `selectorMatches` with the selector read once, for matching one selector against many objects (a policy
 * compile matches each selector against every pod of the namespaces it covers).
 */
export function selectorMatcher(s: LabelSelector): (labels: Record<string, string>) => boolean {
  const pairs = Object.entries(s.matchLabels ?? {});
  const exprs = s.matchExpressions ?? [];
  return (labels) => {
    for (const [k, v] of pairs) if (labels[k] !== v) return false;
    for (const r of exprs) if (!requirementHolds(r, labels)) return false;
    return true;
  };
}
