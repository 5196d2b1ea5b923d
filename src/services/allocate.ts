/**
 * Cluster IPs and node ports, allocated as the API server's service registry does it
 * (pkg/registry/core/service/ipallocator, portallocator and storage/alloc.go):
 *
 * - IPv4 ranges exclude the network and broadcast addresses, IPv6 ranges the network address; a requested
 *   address outside that is "not in the valid range", one in use "already allocated".
 * - Dynamic addresses come from the upper band first: the lowest min(max(16, size/16), 256) addresses are kept
 *   for static (requested) ones (KEP-3070), so `kubernetes` (the first address) and the DNS service
 *   (`dnsServiceIP`) never lose theirs to a dynamic allocation. A random start, then a forward scan.
 * - `kubernetes` in `default` takes the first address and `kube-dns` in `kube-system` the profile's
 *   dnsServiceIP when they ask for none (the API server's bootstrap controller and AKS create them so).
 * - Node ports 30000-32767, the upper band (above min(max(16, size/32), 128)) first.
 *
 * What is taken is what the stored services hold (plus what earlier objects of the same apply took): a freed
 * address is free as soon as its service is gone. Concurrent allocations are made safe by a lock key per
 * address and port (`allocations/serviceips/<ip>`, `allocations/nodeports/<port>`), written in the apply's
 * transaction with a compare on the revision read: two applies that pick the same address cannot both commit.
 */
import {
  type Cidr,
  type Family,
  cidrSize,
  containsIp,
  formatCidr,
  formatIp,
  ipAt,
  parseIp,
} from '../addr/index.js';
import { type FieldProblem, invalid } from '../objects/problems.js';
import {
  type IpFamilyName,
  type Service,
  type ServiceSpec,
  isHeadless,
  needsClusterIp,
  needsHealthCheck,
  needsNodePorts,
} from './types.js';

export const SERVICE_IP_LOCKS = 'allocations/serviceips/';
export const NODE_PORT_LOCKS = 'allocations/nodeports/';
export const NODE_PORT_RANGE = { first: 30000, last: 32767 };
export const API_SERVICE = { namespace: 'default', name: 'kubernetes' };
export const DNS_SERVICE = { namespace: 'kube-system', name: 'kube-dns' };

export interface ServiceNetwork {
  /** The service CIDRs, the primary family first. */
  cidrs: Cidr[];
  dnsServiceIp: string;
}

/** What is in use when an apply starts: every stored service's addresses and node ports, by owner. */
export interface Taken {
  ips: Map<string, string>;
  nodePorts: Map<number, string>;
}

export const familyName = (f: Family): IpFamilyName => (f === 4 ? 'IPv4' : 'IPv6');
const familyNumber = (f: IpFamilyName): Family => (f === 'IPv4' ? 4 : 6);
const ownerOf = (s: Service) => `${s.metadata.namespace}/${s.metadata.name}`;

export function takenBy(services: Service[]): Taken {
  const taken: Taken = { ips: new Map(), nodePorts: new Map() };
  for (const s of services) record(taken, s);
  return taken;
}

function record(taken: Taken, s: Service): void {
  const owner = ownerOf(s);
  if (needsClusterIp(s.spec)) for (const ip of s.spec.clusterIPs ?? []) taken.ips.set(ip, owner);
  for (const p of s.spec.ports ?? []) if (p.nodePort) taken.nodePorts.set(p.nodePort, owner);
  if (s.spec.healthCheckNodePort) taken.nodePorts.set(s.spec.healthCheckNodePort, owner);
}

export interface Allocated {
  service: Service;
  /** The lock keys this allocation newly took (each written in the transaction, guarded). */
  locks: string[];
  problems: FieldProblem[];
}

/** The static band of an address range: min(max(16, size/16), 256) (ipallocator calculateRangeOffset). */
export function staticBand(available: bigint): bigint {
  if (available <= 16n) return 0n;
  const offset = available / 16n;
  return offset < 16n ? 16n : offset > 256n ? 256n : offset;
}

/** First and count of the allocatable addresses: not the network address, nor IPv4's broadcast. */
function usable(c: Cidr): { first: bigint; count: bigint } {
  const size = cidrSize(c);
  const count = c.family === 4 ? size - 2n : size - 1n;
  return { first: 1n, count: count < 0n ? 0n : count };
}

const HINT_IP = 'leave clusterIP out to get a free address, or pick another address of the service CIDR';

/**
 * Allocates the cluster IPs and node ports `next` needs (keeping those `old` had), against `taken`, which it
 * updates so that later services of the same apply see them.
 */
export function allocateService(
  next: Service,
  old: Service | null,
  net: ServiceNetwork,
  taken: Taken,
  random: () => number,
): Allocated {
  const spec: ServiceSpec = { ...next.spec };
  const problems: FieldProblem[] = [];
  const locks: string[] = [];
  const owner = ownerOf(next);
  const mine = (held: string | undefined) => held === undefined || held === owner;
  const families = ipFamilies(spec, old?.spec ?? null, net, problems);
  if (problems.length) return { service: next, locks, problems };
  if (spec.type !== 'ExternalName') spec.ipFamilies = families;
  if (needsClusterIp(spec)) {
    const ips: string[] = [];
    families.forEach((f, i) => {
      const cidr = net.cidrs.find((c) => c.family === familyNumber(f)) as Cidr;
      const wanted = spec.clusterIPs?.[i] ?? wellKnownIp(next, i, cidr, net);
      // An update allocates only for a family it adds (an upgrade); one of the old families left without its
      // address is a release the update validation judges (handleClusterIPsForUpdatedService).
      if (wanted === undefined && old && needsClusterIp(old.spec) && i < (old.spec.ipFamilies ?? []).length)
        return;
      const kept = old && (old.spec.clusterIPs ?? []).includes(wanted ?? '');
      if (wanted !== undefined) {
        const why = kept ? null : checkRequested(wanted, cidr, taken, mine);
        if (why) {
          problems.push(
            invalid('spec.clusterIPs', wanted, `failed to allocate IP ${wanted}: ${why}`, HINT_IP),
          );
          return;
        }
        ips.push(wanted);
        if (!kept) locks.push(`${SERVICE_IP_LOCKS}${wanted}`);
        return;
      }
      const ip = nextFreeIp(cidr, net, taken, random);
      if (ip === null) {
        problems.push(
          invalid(
            'spec.clusterIPs',
            formatCidr(cidr),
            'failed to allocate a serviceIP: range is full',
            `the service CIDR ${formatCidr(cidr)} has no free address; delete services or widen it`,
          ),
        );
        return;
      }
      ips.push(ip);
      locks.push(`${SERVICE_IP_LOCKS}${ip}`);
    });
    spec.clusterIPs = ips;
    spec.clusterIP = ips[0];
  }
  if (needsNodePorts(spec)) {
    const sharing = new Map<number, number>();
    spec.ports = (spec.ports ?? []).map((p, i) => {
      const kept = old?.spec.ports?.some((o) => o.nodePort === p.nodePort) ?? false;
      const at = `spec.ports[${i}].nodePort`;
      if (p.nodePort) {
        const why = kept || sharing.has(p.nodePort) ? null : checkPort(p.nodePort, taken, mine);
        if (why) problems.push(invalid(at, p.nodePort, why, 'leave nodePort out to get a free one'));
        else if (!kept && !sharing.has(p.nodePort)) locks.push(`${NODE_PORT_LOCKS}${p.nodePort}`);
        sharing.set(p.nodePort, i);
        taken.nodePorts.set(p.nodePort, owner);
        return p;
      }
      const port = nextFreePort(taken, random);
      if (port === null) {
        problems.push(
          invalid(
            at,
            0,
            'failed to allocate a nodePort: range is full',
            'delete NodePort or LoadBalancer services',
          ),
        );
        return p;
      }
      locks.push(`${NODE_PORT_LOCKS}${port}`);
      taken.nodePorts.set(port, owner);
      return { ...p, nodePort: port };
    });
  } else if (spec.type === 'LoadBalancer' || spec.type === 'ClusterIP') {
    // A LoadBalancer without node ports, or a service that stopped needing them, holds none.
    spec.ports = spec.ports?.map(({ nodePort: _, ...p }) => p);
  }
  if (needsHealthCheck(spec)) {
    const hc = spec.healthCheckNodePort;
    if (hc) {
      const kept = old?.spec.healthCheckNodePort === hc;
      const why = kept ? null : checkPort(hc, taken, mine);
      if (why) problems.push(invalid('spec.healthCheckNodePort', hc, why, 'leave it out to get a free one'));
      else if (!kept) locks.push(`${NODE_PORT_LOCKS}${hc}`);
    } else {
      const port = nextFreePort(taken, random);
      if (port === null)
        problems.push(
          invalid(
            'spec.healthCheckNodePort',
            0,
            'failed to allocate a nodePort: range is full',
            'delete NodePort or LoadBalancer services',
          ),
        );
      else {
        locks.push(`${NODE_PORT_LOCKS}${port}`);
        spec.healthCheckNodePort = port;
      }
    }
  } else spec.healthCheckNodePort = undefined;
  const service = { ...next, spec };
  if (problems.length === 0) record(taken, service);
  return { service, locks, problems };
}

/**
 * initIPFamilyFields (pkg/registry/core/service/storage/alloc.go): the families a service gets on this
 * cluster, in its order. An update to SingleStack that keeps the clusterIPs and ipFamilies drops the secondary
 * ones (a downgrade); SingleStack with two clusterIPs or two ipFamilies is refused; families follow the given
 * clusterIPs; two families without a policy mean RequireDualStack; a headless service without a selector is
 * RequireDualStack by default and gets both families even on a single-stack cluster; otherwise every family
 * must have a service CIDR here, and PreferDualStack or RequireDualStack add the cluster's other family.
 */
function ipFamilies(
  spec: ServiceSpec,
  old: ServiceSpec | null,
  net: ServiceNetwork,
  problems: FieldProblem[],
): IpFamilyName[] {
  if (spec.type === 'ExternalName') return [];
  const cluster = net.cidrs.map((c) => familyName(c.family));
  const other = (f: IpFamilyName): IpFamilyName => (f === 'IPv4' ? 'IPv6' : 'IPv4');
  if (old && spec.ipFamilyPolicy === 'SingleStack') {
    const same = (a?: string[], b?: string[]) => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
    if (same(spec.clusterIPs, old.clusterIPs) && (spec.clusterIPs ?? []).length > 1)
      spec.clusterIPs = spec.clusterIPs?.slice(0, 1);
    if (same(spec.ipFamilies, old.ipFamilies) && (spec.ipFamilies ?? []).length > 1)
      spec.ipFamilies = spec.ipFamilies?.slice(0, 1);
  }
  if (spec.ipFamilyPolicy === 'SingleStack') {
    for (const [field, n] of [
      ['clusterIPs', (spec.clusterIPs ?? []).length],
      ['ipFamilies', (spec.ipFamilies ?? []).length],
    ] as const) {
      if (n === 2)
        problems.push(
          invalid(
            'spec.ipFamilyPolicy',
            'SingleStack',
            `must be RequireDualStack or PreferDualStack when multiple '${field}' are specified`,
            'set ipFamilyPolicy: RequireDualStack, or give one family',
          ),
        );
    }
    if (problems.length) return [];
  }
  const families = [...(spec.ipFamilies ?? [])];
  (spec.clusterIPs ?? []).forEach((ip, i) => {
    if (ip === 'None' || families[i] !== undefined) return;
    try {
      families[i] = familyName(parseIp(ip).family);
    } catch {
      /* validation reported it */
    }
  });
  let policy = spec.ipFamilyPolicy;
  if (policy === undefined && families.length === 2) policy = 'RequireDualStack';
  if (isHeadless(spec) && Object.keys(spec.selector ?? {}).length === 0) {
    policy ??= 'RequireDualStack';
    if (families.length === 0) families.push(cluster[0]);
    if (families.length < 2 && policy !== 'SingleStack') families.push(other(families[0]));
    spec.ipFamilyPolicy = policy;
    return families;
  }
  if (policy === 'RequireDualStack' && cluster.length < 2) {
    problems.push(
      invalid(
        'spec.ipFamilyPolicy',
        policy,
        'this cluster is not configured for dual-stack services',
        'use SingleStack or PreferDualStack, or give the cluster a service CIDR of each family (networkProfile.serviceCidrs)',
      ),
    );
  }
  families.forEach((f, i) => {
    if (!cluster.includes(f))
      problems.push(
        invalid(
          `spec.ipFamilies[${i}]`,
          f,
          'not configured on this cluster',
          `this cluster has service CIDRs of ${cluster.join(', ')} only (networkProfile.serviceCidrs)`,
        ),
      );
  });
  if (problems.length) return [];
  policy ??= 'SingleStack';
  if (families.length === 0) families.push(cluster[0]);
  if (policy !== 'SingleStack' && families.length === 1 && cluster.length > 1)
    families.push(other(families[0]));
  spec.ipFamilyPolicy = policy;
  return families;
}

/** The address `kubernetes` and the DNS service take when they ask for none. */
function wellKnownIp(s: Service, i: number, cidr: Cidr, net: ServiceNetwork): string | undefined {
  const is = (w: { namespace: string; name: string }) =>
    s.metadata.namespace === w.namespace && s.metadata.name === w.name;
  if (is(API_SERVICE)) return formatIp(ipAt(cidr, 1));
  if (is(DNS_SERVICE) && i === 0 && parseIp(net.dnsServiceIp).family === cidr.family) return net.dnsServiceIp;
  return undefined;
}

function checkRequested(
  ip: string,
  cidr: Cidr,
  taken: Taken,
  mine: (o: string | undefined) => boolean,
): string | null {
  const { first, count } = usable(cidr);
  const a = parseIp(ip);
  const offset = a.value - cidr.network;
  if (!containsIp(cidr, a) || offset < first || offset >= first + count)
    return `the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${formatCidr(cidr)}`;
  if (!mine(taken.ips.get(ip))) return 'provided IP is already allocated';
  return null;
}

function nextFreeIp(cidr: Cidr, net: ServiceNetwork, taken: Taken, random: () => number): string | null {
  const { first, count } = usable(cidr);
  const band = staticBand(count);
  const reserved = new Set([formatIp(ipAt(cidr, 1)), net.dnsServiceIp]);
  const free = (i: bigint) => {
    const ip = formatIp(ipAt(cidr, first + i));
    return taken.ips.has(ip) || reserved.has(ip) ? null : ip;
  };
  return scan(band, count, random, free) ?? scan(0n, band, random, free);
}

/** A random start in [from, to), then forward with wrap-around: the bitmap allocator's random scan. */
function scan<T>(from: bigint, to: bigint, random: () => number, at: (i: bigint) => T | null): T | null {
  const n = to - from;
  if (n <= 0n) return null;
  // Scanning a huge IPv6 range address by address would not end; a bounded number of random probes first.
  const start = from + BigInt(Math.floor(random() * Number(n > 2n ** 52n ? 2n ** 52n : n)));
  const limit = n > 1n << 20n ? 1n << 20n : n;
  for (let k = 0n; k < limit; k++) {
    const found = at(from + ((start - from + k) % n));
    if (found !== null) return found;
  }
  return null;
}

function checkPort(port: number, taken: Taken, mine: (o: string | undefined) => boolean): string | null {
  if (port < NODE_PORT_RANGE.first || port > NODE_PORT_RANGE.last)
    return `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_RANGE.first}-${NODE_PORT_RANGE.last}`;
  if (!mine(taken.nodePorts.get(port))) return 'provided port is already allocated';
  return null;
}

function nextFreePort(taken: Taken, random: () => number): number | null {
  const size = NODE_PORT_RANGE.last - NODE_PORT_RANGE.first + 1;
  const band = BigInt(Math.min(Math.max(16, Math.floor(size / 32)), 128));
  const free = (i: bigint) => {
    const p = NODE_PORT_RANGE.first + Number(i);
    return taken.nodePorts.has(p) ? null : p;
  };
  return scan(band, BigInt(size), random, free) ?? scan(0n, band, random, free);
}
