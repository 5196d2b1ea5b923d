/**
 * What the API server fills in when a NetworkPolicy is created (kubernetes `pkg/apis/networking/v1/defaults.go`),
 * which plugins then rely on: a port's protocol defaults to TCP; empty `policyTypes` become `[Ingress]`, plus
 * `Egress` when the policy has egress rules. podnet reads objects from files without an API server, so it applies
 * this itself, once, when an object is stored: the engine then reads only `policyTypes`.
 */
import type { NetworkPolicy, NetworkPolicyPort, PolicyType } from './types.js';

export function defaultNetworkPolicy(p: NetworkPolicy): NetworkPolicy {
  const port = (x: NetworkPolicyPort): NetworkPolicyPort => ({ ...x, protocol: x.protocol ?? 'TCP' });
  const spec = p.spec;
  const policyTypes: PolicyType[] =
    spec.policyTypes && spec.policyTypes.length > 0
      ? spec.policyTypes
      : ['Ingress', ...((spec.egress ?? []).length > 0 ? (['Egress'] as const) : [])];
  return {
    ...p,
    spec: {
      ...spec,
      podSelector: spec.podSelector ?? {},
      policyTypes,
      ...(spec.ingress
        ? { ingress: spec.ingress.map((r) => ({ ...r, ...(r.ports ? { ports: r.ports.map(port) } : {}) })) }
        : {}),
      ...(spec.egress
        ? { egress: spec.egress.map((r) => ({ ...r, ...(r.ports ? { ports: r.ports.map(port) } : {}) })) }
        : {}),
    },
  };
}
