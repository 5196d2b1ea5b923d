/**
 * networking.k8s.io/v1 NetworkPolicy: the schema the API takes, its validation and defaults (src/policy holds
 * the semantics: validate.ts, defaults.ts, and the engine that trace and the dataplane read).
 */
import { defaultNetworkPolicy } from '../../policy/defaults.js';
import type { NetworkPolicy } from '../../policy/types.js';
import { validateNetworkPolicySpec } from '../../policy/validate.js';
import { type ObjectKind, ageColumn } from '../kind.js';
import { invalid } from '../problems.js';
import { any, int, list, map, obj, str } from '../schema.js';
import type { KubeObject } from '../types.js';

const selector = obj({
  matchLabels: map(str),
  matchExpressions: list(obj({ key: str, operator: str, values: list(str) })),
});
const peer = obj({
  podSelector: selector,
  namespaceSelector: selector,
  ipBlock: obj({ cidr: str, except: list(str) }),
});
// `port` is an IntOrString: a number or a named port, checked by the kind's validation.
const port = obj({ protocol: str, port: any, endPort: int });

/** How kubectl shows a pod selector: `k=v,k2=v2`, `<none>` for the empty one. */
function selectorText(s: NetworkPolicy['spec']['podSelector']): string {
  const parts = [
    ...Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(s.matchExpressions ?? []).map(
      (e) => `${e.key} ${e.operator.toLowerCase()} (${(e.values ?? []).join(',')})`,
    ),
  ];
  return parts.length > 0 ? parts.join(',') : '<none>';
}

export const networkPolicyKind: ObjectKind = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  resource: 'networkpolicies.networking.k8s.io',
  aliases: ['networkpolicy', 'netpol'],
  namespaced: true,
  nameRule: 'subdomain',
  fields: {
    spec: obj({
      podSelector: selector,
      policyTypes: list(str),
      ingress: list(obj({ from: list(peer), ports: list(port) })),
      egress: list(obj({ to: list(peer), ports: list(port) })),
    }),
  },
  validate(o: KubeObject) {
    const p = o as NetworkPolicy;
    if (!p.spec?.podSelector)
      return [invalid('spec.podSelector', null, 'Required value', 'use {} to select every pod')];
    const rules = [
      ...(p.spec.ingress ?? []).map((r, i) => ({ at: `spec.ingress[${i}]`, ports: r.ports ?? [] })),
      ...(p.spec.egress ?? []).map((r, i) => ({ at: `spec.egress[${i}]`, ports: r.ports ?? [] })),
    ];
    const typed = rules.flatMap((r) =>
      r.ports.flatMap((x, j) =>
        x.port === undefined || typeof x.port === 'number' || typeof x.port === 'string'
          ? []
          : [
              invalid(
                `${r.at}.ports[${j}].port`,
                x.port,
                'must be a number or a port name',
                'e.g. 80 or http',
              ),
            ],
      ),
    );
    return [...typed, ...validateNetworkPolicySpec(p)];
  },
  validateUpdate: () => [],
  prepare: (o: KubeObject) => defaultNetworkPolicy(o as NetworkPolicy) as KubeObject,
  columns: [
    { header: 'NAME', value: (o) => o.metadata.name },
    { header: 'POD-SELECTOR', value: (o) => selectorText((o as NetworkPolicy).spec.podSelector ?? {}) },
    ageColumn,
  ],
};
