/**
 * LoadBalancer frontends: the one place that says which "public" addresses a cluster's load balancer hands
 * out, and the allocation of one frontend per LoadBalancer Service, written to `status.loadBalancer.ingress`
 * (https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer: "Information about the
 * provisioned balancer is published in the Service's .status.loadBalancer field").
 *
 * - The lab's public addresses are TEST-NET-2 (198.51.100.0/24, RFC 5737), which never leaves the lab's
 *   namespaces; each cluster of a VNet gets its own /26 of it (`planFrontendRange`), written by the lab into
 *   the store (`FRONTEND_RANGE_KEY`). A store without a range has no load balancer: LoadBalancer Services stay
 *   `<pending>`, as on a cluster without a cloud provider.
 * - The range's last usable address is the load balancer's outbound frontend (Azure's `outboundType:
 *   loadBalancer` SNATs egress to a frontend of the cluster's load balancer): never given to a Service.
 * - `spec.loadBalancerIP` is honoured when it is in the range and free (cloud-provider-azure still reads the
 *   deprecated field); otherwise the Service is accepted and stays `<pending>`, as the API server accepts it
 *   and the cloud controller fails to provision it.
 * - Atomic as the cluster IPs are (allocate.ts): what is taken is what the stored Services hold, and every
 *   frontend an apply takes has a lock key (`allocations/lbfrontends/<ip>`) written in the apply's transaction
 *   with a compare on the revision read. A Service that is deleted, or stops being a LoadBalancer, frees its
 *   frontend at once.
 */
import { type Cidr, cidrSize, containsIp, formatIp, ipAt, parseCidr, parseIp } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import type { Service } from '../services/types.js';

/** The lab's "public" addresses: TEST-NET-2 (the lab's internet is TEST-NET-3, 203.0.113.0/24). */
export const LAB_PUBLIC_CIDR = '198.51.100.0/24';
/** Each cluster of a VNet takes one block of that size: 61 Service frontends and the outbound one. */
export const FRONTEND_RANGE_PREFIX = 26;
/**
 * A dual-stack cluster's IPv6 frontends: a /120 of the documentation prefix (RFC 3849, as the lab's other
 * outside addresses), the one at its IPv4 block's index, so the two ranges pair up without more planning.
 */
export const LAB_PUBLIC_CIDR6 = '2001:db8:198:51::/64';
export const FRONTEND_RANGE_PREFIX6 = 120;
/** The store key holding the cluster's frontend range, `{"cidr":"198.51.100.0/26"}` (and `cidr6`). */
export const FRONTEND_RANGE_KEY = 'loadbalancer/frontend-range';
export const FRONTEND_LOCKS = 'allocations/lbfrontends/';

export interface FrontendRange {
  cidr: string;
  /** A dual-stack cluster's IPv6 frontends. */
  cidr6?: string;
}

/** The IPv6 frontend range paired with a cluster's IPv4 one (`frontendRange6('198.51.100.64/26')` is `...::100/120`). */
export function frontendRange6(cidr: string): string {
  const index =
    (parseCidr(cidr).network - parseCidr(LAB_PUBLIC_CIDR).network) >> BigInt(32 - FRONTEND_RANGE_PREFIX);
  const base = parseCidr(LAB_PUBLIC_CIDR6);
  return `${formatIp(ipAt(base, index << BigInt(128 - FRONTEND_RANGE_PREFIX6)))}/${FRONTEND_RANGE_PREFIX6}`;
}

/** The cluster's frontend range: its IPv4 block, and the paired IPv6 one when the cluster is dual-stack. */
export function frontendRangeOf(cidr: string, dualStack: boolean): FrontendRange {
  return { cidr, ...(dualStack ? { cidr6: frontendRange6(cidr) } : {}) };
}

/** A free block of the lab's public range for a cluster joining a VNet whose clusters hold `taken`. */
export function planFrontendRange(taken: readonly string[]): string {
  const whole = parseCidr(LAB_PUBLIC_CIDR);
  const size = 1n << BigInt(32 - FRONTEND_RANGE_PREFIX);
  for (let at = 0n; at < cidrSize(whole); at += size) {
    const cidr = `${formatIp(ipAt(whole, at))}/${FRONTEND_RANGE_PREFIX}`;
    if (!taken.includes(cidr)) return cidr;
  }
  throw new PodnetError(
    'LabFrontendsExhausted',
    `the VNet's clusters hold every /${FRONTEND_RANGE_PREFIX} of ${LAB_PUBLIC_CIDR}`,
    { field: '--vnet', hint: 'put this cluster in a VNet of its own (podnet lab up --vnet NEW)' },
  );
}

/** Usable offsets of a range: not the network address, the broadcast, nor the outbound frontend. */
function usable(c: Cidr): { first: bigint; last: bigint } {
  return { first: 1n, last: cidrSize(c) - 3n };
}

/** The outbound frontend of a cluster's load balancer: the range's last usable address. */
export function outboundFrontend(range: string): string {
  const c = parseCidr(range);
  return formatIp(ipAt(c, cidrSize(c) - 2n));
}

/** Frontends in use, by owner `namespace/name`. */
export function frontendsTakenBy(services: Service[]): Map<string, string> {
  const taken = new Map<string, string>();
  for (const s of services) for (const ip of ingressIps(s)) taken.set(ip, ownerOf(s));
  return taken;
}

const ownerOf = (s: Service) => `${s.metadata.namespace}/${s.metadata.name}`;

export const ingressIps = (s: Service): string[] =>
  (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => ip !== undefined);

/** Whether this load balancer serves the Service: a LoadBalancer without another implementation's class. */
export const servedHere = (s: Service) =>
  s.spec.type === 'LoadBalancer' && s.spec.loadBalancerClass === undefined;

export interface FrontendAllocation {
  service: Service;
  /** The lock key this allocation newly took, if any. */
  locks: string[];
}

/**
 * The frontends `next` gets, one per family of its `spec.ipFamilies` the range has, in that order: per family
 * the one `old` held when it still fits, else `spec.loadBalancerIP` (of that family) when in the range and
 * free, else the lowest free address. None (`<pending>`) when the store has no range, the Service is not a
 * LoadBalancer served here, or its primary family's frontend cannot be had (requested and taken, or the range
 * full); a secondary family that cannot be had is left out. Updates `taken` so later Services of the same
 * apply see it.
 */
export function allocateFrontend(
  next: Service,
  old: Service | null,
  range: FrontendRange | null,
  taken: Map<string, string>,
): FrontendAllocation {
  const owner = ownerOf(next);
  const status = {
    ...(next.status ?? {}),
    loadBalancer: {} as NonNullable<Service['status']>['loadBalancer'],
  };
  const none = { service: { ...next, status }, locks: [] };
  if (!range || !servedHere(next)) return none;
  const free = (ip: string) => (taken.get(ip) ?? owner) === owner;
  const ips: string[] = [];
  const locks: string[] = [];
  const families = next.spec.ipFamilies ?? ['IPv4'];
  const rangeOf = (family: string) => (family === 'IPv6' ? range.cidr6 : range.cidr);
  // spec.loadBalancerIP names the frontend of its own family; one no family of the Service can have (not an
  // address, or of a family without a range here) leaves the Service <pending>.
  const wanted = next.spec.loadBalancerIP;
  const wantedFamily = wanted && isIp(wanted) ? (parseIp(wanted).family === 6 ? 'IPv6' : 'IPv4') : null;
  if (wanted && (!wantedFamily || !families.includes(wantedFamily) || !rangeOf(wantedFamily))) return none;
  for (const [i, family] of families.entries()) {
    const text = rangeOf(family);
    const ip = text
      ? pickFrontend(parseCidr(text), family === wantedFamily ? wanted : undefined, old, free, taken)
      : undefined;
    if (ip === undefined) {
      if (i === 0) return none;
      continue;
    }
    taken.set(ip.ip, owner);
    ips.push(ip.ip);
    if (!ip.held) locks.push(`${FRONTEND_LOCKS}${ip.ip}`);
  }
  if (ips.length === 0) return none;
  return {
    service: {
      ...next,
      status: { ...status, loadBalancer: { ingress: ips.map((ip) => ({ ip, ipMode: 'VIP' as const })) } },
    },
    locks,
  };
}

/** One family's frontend in `cidr`: the one `old` held, else `wanted` (of this family), else the lowest free. */
function pickFrontend(
  cidr: Cidr,
  wanted: string | undefined,
  old: Service | null,
  free: (ip: string) => boolean,
  taken: Map<string, string>,
): { ip: string; held: boolean } | undefined {
  const { first, last } = usable(cidr);
  const fits = (ip: string) => {
    const a = parseIp(ip);
    if (a.family !== cidr.family || !containsIp(cidr, a)) return false;
    const off = a.value - cidr.network;
    return off >= first && off <= last;
  };
  const held = old && servedHere(old) ? ingressIps(old).find(fits) : undefined;
  if (wanted)
    return wanted === held || (fits(wanted) && free(wanted))
      ? { ip: wanted, held: wanted === held }
      : undefined;
  if (held) return { ip: held, held: true };
  for (let off = first; off <= last; off++) {
    const candidate = formatIp(ipAt(cidr, off));
    if (!taken.has(candidate)) return { ip: candidate, held: false };
  }
  return undefined;
}

const isIp = (text: string) => {
  try {
    parseIp(text);
    return true;
  } catch {
    return false;
  }
};
