/**
 * Kubernetes `networking.k8s.io/v1` NetworkPolicy, in the shape the API takes it (only the fields policy
 * semantics read), and the plain data the policy engine decides over: the namespaces and pods of the cluster,
 * and one flow.
 */
import type { L4Protocol } from '../objects/types.js';

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface IPBlock {
  cidr: string;
  except?: string[];
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

export interface NetworkPolicyPort {
  protocol?: L4Protocol;
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export type PolicyType = 'Ingress' | 'Egress';

export interface NetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec: {
    podSelector: LabelSelector;
    policyTypes?: PolicyType[];
    ingress?: NetworkPolicyIngressRule[];
    egress?: NetworkPolicyEgressRule[];
  };
}

/** A pod as policies see it: its identity, labels, address and the ports its containers declare. */
export interface PolicyPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ips: string[];
  node?: string;
  /** `containerPorts` with names, for named ports in policies. */
  ports: { name?: string; containerPort: number; protocol: L4Protocol }[];
  /** hostNetwork pods are node traffic to policies (Kubernetes leaves them out of selectors). */
  hostNetwork?: boolean;
}

export interface PolicyWorld {
  /** Namespace name -> labels (each carries `kubernetes.io/metadata.name`). */
  namespaces: Map<string, Record<string, string>>;
  pods: PolicyPod[];
  /** Policies as stored (defaults already applied, see defaults.ts). */
  policies: NetworkPolicy[];
}

export type FlowProtocol = L4Protocol | 'ICMP';
