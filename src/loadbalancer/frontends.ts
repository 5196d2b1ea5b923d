/**
 * LoadBalancer frontends: the one place that says which "public" addresses a cluster's load balancer hands
 * out, and the allocation of one frontend per LoadBalancer Service, written to `status.loadBalancer.ingress`
 * (https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer: "Information about the
 * provisioned balancer is published in the Service's .status.loadBalancer field").
 *
 * - The lab's public addresses are TEST-NET-2 (198.51.100.0/24, RFC 5737), which never leaves the lab's
 *   namespaces: the lower half for Service frontends (here), the upper half for the outbound types' public
 *   addresses (src/outbound/plan.ts, `OUTBOUND_PUBLIC_CIDR`, the load balancer's outbound frontend among them).
 *   Each cluster of a VNet gets its own /27 of the lower half (`planFrontendRange`), written by the lab into the
 *   store (`FRONTEND_RANGE_KEY`). A store without a range has no load balancer: LoadBalancer Services stay
 *   `<pending>`, as on a cluster without a cloud provider.
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

/** Service frontends: the lower half of TEST-NET-2 (the lab's internet is TEST-NET-3, 203.0.113.0/24). */
export const FRONTENDS_CIDR = '198.51.100.0/25';
/** Each cluster of a VNet takes one block of that size: 30 Service frontends, 4 clusters per VNet. */
export const FRONTEND_RANGE_PREFIX = 27;
/** The store key holding the cluster's frontend range, `{"cidr":"198.51.100.0/27"}`. */
export const FRONTEND_RANGE_KEY = 'loadbalancer/frontend-range';
export const FRONTEND_LOCKS = 'allocations/lbfrontends/';

export interface FrontendRange {
  cidr: string;
}

/** A free block of the lab's public range for a cluster joining a VNet whose clusters hold `taken`. */
export function planFrontendRange(taken: readonly string[]): string {
  const whole = parseCidr(FRONTENDS_CIDR);
  const size = 1n << BigInt(32 - FRONTEND_RANGE_PREFIX);
  for (let at = 0n; at < cidrSize(whole); at += size) {
    const cidr = `${formatIp(ipAt(whole, at))}/${FRONTEND_RANGE_PREFIX}`;
    if (!taken.includes(cidr)) return cidr;
  }
  throw new PodnetError(
    'LabFrontendsExhausted',
    `the VNet's clusters hold every /${FRONTEND_RANGE_PREFIX} of ${FRONTENDS_CIDR}`,
    { field: '--vnet', hint: 'put this cluster in a VNet of its own (podnet lab up --vnet NEW)' },
  );
}

/** Usable offsets of a range: not the network address nor the broadcast. */
function usable(c: Cidr): { first: bigint; last: bigint } {
  return { first: 1n, last: cidrSize(c) - 2n };
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
 * The frontend `next` gets: the one `old` held when it still fits, else `spec.loadBalancerIP` when in the
 * range and free, else the lowest free address; none (`<pending>`) when the store has no range, the Service
 * is not a LoadBalancer served here, the requested address cannot be had, or the range is full. Updates
 * `taken` so later Services of the same apply see it.
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
  const cidr = parseCidr(range.cidr);
  const { first, last } = usable(cidr);
  const fits = (ip: string) => {
    const a = parseIp(ip);
    if (a.family !== 4 || !containsIp(cidr, a)) return false;
    const off = a.value - cidr.network;
    return off >= first && off <= last;
  };
  const free = (ip: string) => (taken.get(ip) ?? owner) === owner;
  const held = old && servedHere(old) ? ingressIps(old).find(fits) : undefined;
  const wanted = next.spec.loadBalancerIP;
  let ip: string | undefined;
  if (wanted) ip = wanted === held || (isIp(wanted) && fits(wanted) && free(wanted)) ? wanted : undefined;
  else if (held) ip = held;
  else
    for (let off = first; off <= last && ip === undefined; off++) {
      const candidate = formatIp(ipAt(cidr, off));
      if (!taken.has(candidate)) ip = candidate;
    }
  if (ip === undefined) return none;
  taken.set(ip, owner);
  return {
    service: { ...next, status: { ...status, loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } } },
    locks: ip === held ? [] : [`${FRONTEND_LOCKS}${ip}`],
  };
}

const isIp = (text: string) => {
  try {
    parseIp(text);
    return true;
  } catch {
    return false;
  }
};
