/**
 * The API server's validation of a NetworkPolicy spec (kubernetes `pkg/apis/networking/validation/validation.go`
 * `ValidateNetworkPolicySpec`, with apimachinery's label selector and port name rules), as a list of problems
 * with the field path, so an apply reports every one at once.
 */
import { BITS, type Cidr, cidrOf, parseIp } from '../addr/index.js';
import type { IPBlock, LabelSelector, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from './types.js';

export interface PolicyProblem {
  field: string;
  message: string;
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A qualified name: `[prefix/]name`, prefix a DNS subdomain of at most 253, name at most 63 (apimachinery). */
export function qualifiedNameProblem(key: string): string | null {
  const slash = key.lastIndexOf('/');
  const [prefix, name] = slash < 0 ? [null, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== null && (prefix === '' || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    return 'prefix part must be a lowercase DNS subdomain of at most 253 characters';
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name))
    return "name part must be 1-63 characters, alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric";
  return null;
}

export function labelValueProblem(v: string): string | null {
  if (v === '') return null;
  return v.length <= 63 && LABEL_NAME.test(v)
    ? null
    : "a label value must be at most 63 characters, alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric";
}

/** IANA_SVC_NAME (RFC 6335): 1-15 lowercase alphanumerics or '-', a letter at least, no '-' at an end or twice. */
export function portNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 15) return 'a port name must be 1-15 characters';
  if (!/^[a-z0-9-]+$/.test(name)) return "a port name may contain only lowercase alphanumerics and '-'";
  if (!/[a-z]/.test(name)) return 'a port name must contain at least one letter';
  if (name.includes('--')) return "a port name may not contain two '-' in a row";
  if (name.startsWith('-') || name.endsWith('-')) return "a port name may not begin or end with '-'";
  return null;
}

export function validateLabelSelector(s: LabelSelector, field: string): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) {
    const kp = qualifiedNameProblem(k);
    if (kp) out.push({ field: `${field}.matchLabels`, message: `key "${k}": ${kp}` });
    const vp = labelValueProblem(String(v));
    if (vp) out.push({ field: `${field}.matchLabels.${k}`, message: vp });
  }
  (s.matchExpressions ?? []).forEach((r, i) => {
    const f = `${field}.matchExpressions[${i}]`;
    const kp = qualifiedNameProblem(r.key ?? '');
    if (kp) out.push({ field: `${f}.key`, message: kp });
    const values = r.values ?? [];
    if (r.operator === 'In' || r.operator === 'NotIn') {
      if (values.length === 0)
        out.push({ field: `${f}.values`, message: 'must be specified when operator is In or NotIn' });
    } else if (r.operator === 'Exists' || r.operator === 'DoesNotExist') {
      if (values.length > 0)
        out.push({
          field: `${f}.values`,
          message: 'may not be specified when operator is Exists or DoesNotExist',
        });
    } else {
      out.push({
        field: `${f}.operator`,
        message: `"${r.operator}" is not a valid operator (In, NotIn, Exists, DoesNotExist)`,
      });
    }
    values.forEach((v, j) => {
      const vp = labelValueProblem(String(v));
      if (vp) out.push({ field: `${f}.values[${j}]`, message: vp });
    });
  });
  return out;
}

export function validatePort(p: NetworkPolicyPort, field: string): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  if (p.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(p.protocol))
    out.push({ field: `${field}.protocol`, message: `"${p.protocol}" is not supported: TCP, UDP or SCTP` });
  if (p.port === undefined) {
    if (p.endPort !== undefined)
      out.push({ field: `${field}.endPort`, message: 'may not be specified when port is not specified' });
    return out;
  }
  if (typeof p.port === 'number') {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)
      out.push({ field: `${field}.port`, message: 'must be between 1 and 65535, inclusive' });
    if (p.endPort !== undefined) {
      if (!Number.isInteger(p.endPort) || p.endPort < 1 || p.endPort > 65535)
        out.push({ field: `${field}.endPort`, message: 'must be between 1 and 65535, inclusive' });
      else if (p.endPort < p.port)
        out.push({ field: `${field}.endPort`, message: 'must be greater than or equal to port' });
    }
    return out;
  }
  const np = portNameProblem(String(p.port));
  if (np) out.push({ field: `${field}.port`, message: np });
  if (p.endPort !== undefined)
    out.push({ field: `${field}.endPort`, message: 'may not be specified when port is non-numeric' });
  return out;
}

/** A CIDR as the API takes it: host bits may be set (Go's ParseCIDR keeps the network); null when malformed. */
export function parseLooseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const prefix = text.slice(slash + 1);
  if (slash < 0 || !/^(0|[1-9][0-9]{0,2})$/.test(prefix)) return null;
  try {
    const ip = parseIp(text.slice(0, slash));
    return Number(prefix) <= BITS[ip.family] ? cidrOf(ip.family, ip.value, Number(prefix)) : null;
  } catch {
    return null;
  }
}

export function validateIpBlock(b: IPBlock, field: string): PolicyProblem[] {
  if (!b.cidr) return [{ field: `${field}.cidr`, message: 'is required' }];
  const cidr = parseLooseCidr(b.cidr);
  if (!cidr) return [{ field: `${field}.cidr`, message: `"${b.cidr}" is not a valid CIDR` }];
  const out: PolicyProblem[] = [];
  (b.except ?? []).forEach((e, i) => {
    const ex = parseLooseCidr(e);
    if (!ex) out.push({ field: `${field}.except[${i}]`, message: `"${e}" is not a valid CIDR` });
    else if (
      ex.family !== cidr.family ||
      ex.prefix <= cidr.prefix ||
      cidrOf(cidr.family, ex.network, cidr.prefix).network !== cidr.network
    )
      out.push({ field: `${field}.except[${i}]`, message: `must be a strict subset of \`cidr\` ${b.cidr}` });
  });
  return out;
}

export function validatePeer(peer: NetworkPolicyPeer, field: string): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  let peers = 0;
  if (peer.podSelector) {
    peers++;
    out.push(...validateLabelSelector(peer.podSelector, `${field}.podSelector`));
  }
  if (peer.namespaceSelector) {
    peers++;
    out.push(...validateLabelSelector(peer.namespaceSelector, `${field}.namespaceSelector`));
  }
  if (peer.ipBlock) {
    peers++;
    out.push(...validateIpBlock(peer.ipBlock, `${field}.ipBlock`));
  }
  if (peers === 0) out.push({ field, message: 'must specify a peer' });
  else if (peers > 1 && peer.ipBlock)
    out.push({ field, message: 'may not specify both ipBlock and another peer' });
  return out;
}

export function validateNetworkPolicySpec(p: NetworkPolicy): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  const spec = p.spec;
  out.push(...validateLabelSelector(spec.podSelector ?? {}, 'spec.podSelector'));
  (spec.ingress ?? []).forEach((r, i) => {
    (r.ports ?? []).forEach((port, j) => out.push(...validatePort(port, `spec.ingress[${i}].ports[${j}]`)));
    (r.from ?? []).forEach((peer, j) => out.push(...validatePeer(peer, `spec.ingress[${i}].from[${j}]`)));
  });
  (spec.egress ?? []).forEach((r, i) => {
    (r.ports ?? []).forEach((port, j) => out.push(...validatePort(port, `spec.egress[${i}].ports[${j}]`)));
    (r.to ?? []).forEach((peer, j) => out.push(...validatePeer(peer, `spec.egress[${i}].to[${j}]`)));
  });
  const types = spec.policyTypes ?? [];
  if (types.length > 2)
    out.push({ field: 'spec.policyTypes', message: 'may not specify more than two policyTypes' });
  types.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress')
      out.push({ field: `spec.policyTypes[${i}]`, message: `"${t}" is not supported: Ingress or Egress` });
  });
  return out;
}
