/**
 * The API server's validation of a NetworkPolicy spec (kubernetes `pkg/apis/networking/validation/validation.go`
 * `ValidateNetworkPolicySpec`), over apimachinery's label and port rules (`src/objects/validation.ts`), as the
 * field problems an apply reports all at once.
 */
import { BITS, type Cidr, cidrOf, parseIp } from '../addr/index.js';
import {
  type FieldProblem,
  forbidden,
  invalid,
  invalids,
  notSupported,
  required,
} from '../objects/problems.js';
import {
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
} from '../objects/validation.js';
import type { IPBlock, LabelSelector, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from './types.js';

const SELECTOR_HINT = 'see the Kubernetes label selector syntax: keys are [prefix/]name, values are labels';

/** metav1validation.ValidateLabelSelector. */
export function validateLabelSelector(s: LabelSelector, field: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) {
    out.push(...invalids(`${field}.matchLabels`, k, isQualifiedName(k), SELECTOR_HINT));
    out.push(...invalids(`${field}.matchLabels`, String(v), isValidLabelValue(String(v)), SELECTOR_HINT));
  }
  (s.matchExpressions ?? []).forEach((r, i) => {
    const f = `${field}.matchExpressions[${i}]`;
    out.push(...invalids(`${f}.key`, r.key ?? '', isQualifiedName(r.key ?? ''), SELECTOR_HINT));
    const values = r.values ?? [];
    if (r.operator === 'In' || r.operator === 'NotIn') {
      if (values.length === 0)
        out.push(required(`${f}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (r.operator === 'Exists' || r.operator === 'DoesNotExist') {
      if (values.length > 0)
        out.push(
          forbidden(
            `${f}.values`,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            'remove values',
          ),
        );
    } else out.push(notSupported(`${f}.operator`, r.operator, ['In', 'NotIn', 'Exists', 'DoesNotExist']));
    values.forEach((v, j) =>
      out.push(...invalids(`${f}.values[${j}]`, String(v), isValidLabelValue(String(v)), SELECTOR_HINT)),
    );
  });
  return out;
}

/** ValidateNetworkPolicyPort. */
export function validatePort(p: NetworkPolicyPort, field: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (p.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(p.protocol))
    out.push(notSupported(`${field}.protocol`, p.protocol, ['TCP', 'UDP', 'SCTP']));
  const endPort = (detail: string) =>
    invalid(`${field}.endPort`, p.endPort, detail, 'see the ports rules of NetworkPolicy');
  if (p.port === undefined) {
    if (p.endPort !== undefined) out.push(endPort('may not be specified when `port` is not specified'));
    return out;
  }
  if (typeof p.port === 'number') {
    out.push(
      ...isValidPortNum(p.port).map((m) => invalid(`${field}.port`, p.port, m, 'use a port from 1 to 65535')),
    );
    if (p.endPort !== undefined) {
      out.push(...isValidPortNum(p.endPort).map((m) => endPort(m)));
      if (Number.isInteger(p.endPort) && p.endPort < p.port)
        out.push(endPort('must be greater than or equal to `port`'));
    }
    return out;
  }
  out.push(
    ...invalids(
      `${field}.port`,
      String(p.port),
      isValidPortName(String(p.port)),
      'a named port is an IANA service name, e.g. http',
    ),
  );
  if (p.endPort !== undefined) out.push(endPort('may not be specified when `port` is non-numeric'));
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

/** ValidateIPBlock: a valid `cidr`, and every `except` a strict subset of it. */
export function validateIpBlock(b: IPBlock, field: string): FieldProblem[] {
  if (!b.cidr) return [required(`${field}.cidr`, 'give the CIDR, e.g. 10.0.0.0/8')];
  const cidr = parseLooseCidr(b.cidr);
  if (!cidr) return [invalid(`${field}.cidr`, b.cidr, 'must be a valid CIDR', 'e.g. 10.0.0.0/8')];
  const out: FieldProblem[] = [];
  (b.except ?? []).forEach((e, i) => {
    const ex = parseLooseCidr(e);
    const inside =
      ex &&
      ex.family === cidr.family &&
      ex.prefix > cidr.prefix &&
      cidrOf(cidr.family, ex.network, cidr.prefix).network === cidr.network;
    if (!ex) out.push(invalid(`${field}.except[${i}]`, e, 'must be a valid CIDR', 'e.g. 10.1.0.0/16'));
    else if (!inside)
      out.push(
        invalid(
          `${field}.except[${i}]`,
          e,
          'must be a strict subset of `cidr`',
          `use a range inside ${b.cidr}`,
        ),
      );
  });
  return out;
}

/** ValidateNetworkPolicyPeer: exactly one kind of peer, ipBlock never with a selector. */
export function validatePeer(peer: NetworkPolicyPeer, field: string): FieldProblem[] {
  const out: FieldProblem[] = [];
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
  if (peers === 0)
    out.push(required(field, 'must specify a peer: podSelector, namespaceSelector or ipBlock'));
  else if (peers > 1 && peer.ipBlock)
    out.push(forbidden(field, 'may not specify both ipBlock and another peer', 'use two peers'));
  return out;
}

export function validateNetworkPolicySpec(p: NetworkPolicy): FieldProblem[] {
  const out: FieldProblem[] = [];
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
    out.push(
      forbidden(
        'spec.policyTypes',
        'may not specify more than two policyTypes',
        'list Ingress, Egress or both',
      ),
    );
  types.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress')
      out.push(notSupported(`spec.policyTypes[${i}]`, t, ['Ingress', 'Egress']));
  });
  return out;
}
