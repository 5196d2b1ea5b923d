/**
 * Cluster DNS records per the Kubernetes DNS specification 1.0.1 (kubernetes/dns docs/specification.md) and
 * CoreDNS's `kubernetes` plugin with `pods insecure` as AKS configures it (reference/policy-services.md C):
 *
 *   <svc>.<ns>.svc.<zone>                 A/AAAA: the cluster IP of that family; headless: every endpoint
 *                                         (none ready: NXDOMAIN); ExternalName: CNAME
 *   <host>.<svc>.<ns>.svc.<zone>          headless: the endpoint whose host label it is: its pod's
 *                                         spec.hostname when the pod's spec.subdomain is the service's name
 *                                         (a StatefulSet's `web-0.web`), else its dashed address
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone> SRV for named ports: the service (ClusterIP) or each endpoint
 *   <a-b-c-d>.<ns>.pod.<zone>             A a.b.c.d (pods insecure)
 *   dns-version.<zone>                    TXT "1.0.1"
 *   <d.c.b.a>.in-addr.arpa, <nibbles>.ip6.arpa
 *                                         PTR: a cluster IP to <svc>.<ns>.svc.<zone>; else an endpoint's
 *                                         address to <host>.<svc>.<ns>.svc.<zone> for each Service selecting it
 *                                         (CoreDNS's serviceRecordForIP); any other reverse name is forwarded,
 *                                         as AKS's Corefile falls through in-addr.arpa and ip6.arpa
 *
 * A name in the zone with no record of the asked type is NODATA (NOERROR, no answer, the SOA), an unknown name
 * NXDOMAIN, and names outside the zone are not answered here (`forward`): the server relays them upstream.
 * Names compare case-insensitively. Pure: the Services and endpoints in, the answer out.
 */
import { formatIp, parseIp } from '../addr/index.js';
import type { PodEndpoint } from '../endpoints/record.js';
import { endpointHostname, selectedEndpoints, targetPortOf } from '../services/endpoints.js';
import type { ServiceWorld } from '../services/proxy.js';
import type { Service } from '../services/types.js';

export const DEFAULT_ZONE = 'cluster.local';
export const TTL = 5;
export const SCHEMA_VERSION = '1.0.1';

export type RecordType = 'A' | 'AAAA' | 'SRV' | 'CNAME' | 'TXT' | 'SOA' | 'PTR';

export type Answer =
  | { type: 'A' | 'AAAA'; name: string; ttl: number; data: string }
  | { type: 'CNAME' | 'PTR'; name: string; ttl: number; data: string }
  | { type: 'TXT'; name: string; ttl: number; data: string[] }
  | {
      type: 'SRV';
      name: string;
      ttl: number;
      data: { priority: number; weight: number; port: number; target: string };
    };

export type Resolution =
  | { kind: 'answer'; rcode: 'NOERROR' | 'NXDOMAIN'; answers: Answer[] }
  /** Not in the cluster zone: relay it to the upstream resolver. */
  | { kind: 'forward' };

const familyOf = (ip: string) => parseIp(ip).family;
/**
 * An endpoint's host label without a hostname, as CoreDNS's endpointHostname makes it: the address with `.`
 * (IPv4) or `:` (IPv6, as written) turned into `-`, and a `0` after a trailing `-` (`fd00::` is `fd00--0`).
 */
const dashed = (ip: string) => {
  const d = ip.replaceAll(familyOf(ip) === 4 ? '.' : ':', '-');
  return d.endsWith('-') ? `${d}0` : d;
};

/** An endpoint address's host label under `svc`, as CoreDNS's endpointHostname: its hostname, else the dashed address. */
const hostLabel = (svc: Service, e: PodEndpoint, ip: string) => endpointHostname(svc, e) ?? dashed(ip);

/**
 * A world's lookups, built once per world (the agent derives a new world per change of the watched objects):
 * Services by namespace and name, and endpoints by namespace and label pair, so a query costs what its own
 * service selects, not a scan of the cluster's Services and endpoints.
 */
interface WorldIndex {
  services: Map<string, Service>;
  namespaces: Set<string>;
  /** `ns\0key=value` -> the endpoints of that namespace carrying that label. */
  byLabel: Map<string, PodEndpoint[]>;
  /** Address -> the names its PTR records point to (in `zone`); built on the first reverse query of the world. */
  reverse?: { zone: string; byIp: Map<string, string[]> };
}

const indexes = new WeakMap<ServiceWorld, WorldIndex>();

function indexOf(world: ServiceWorld): WorldIndex {
  let ix = indexes.get(world);
  if (ix) return ix;
  ix = { services: new Map(), namespaces: new Set(), byLabel: new Map() };
  for (const s of world.services) {
    ix.services.set(`${s.metadata.namespace}/${s.metadata.name}`.toLowerCase(), s);
    ix.namespaces.add((s.metadata.namespace ?? '').toLowerCase());
  }
  for (const e of world.endpoints)
    for (const [k, v] of Object.entries(e.labels)) {
      const key = `${e.namespace}\0${k}=${v}`;
      const list = ix.byLabel.get(key);
      if (list) list.push(e);
      else ix.byLabel.set(key, [e]);
    }
  indexes.set(world, ix);
  return ix;
}

/** The endpoints `svc` selects (services/endpoints.ts decides), among those carrying its first selector pair. */
function endpointsOf(world: ServiceWorld, svc: Service): PodEndpoint[] {
  const first = Object.entries(svc.spec.selector ?? {})[0];
  if (!first) return [];
  const candidates = indexOf(world).byLabel.get(`${svc.metadata.namespace}\0${first[0]}=${first[1]}`) ?? [];
  return selectedEndpoints(svc, candidates);
}

export function resolve(world: ServiceWorld, qname: string, qtype: string, zone = DEFAULT_ZONE): Resolution {
  const name = qname.toLowerCase().replace(/\.$/, '');
  const z = zone.toLowerCase();
  const reversed = reverseAddress(name);
  if (reversed !== null) {
    const targets = reverseIndex(world, z).get(reversed);
    if (!targets) return { kind: 'forward' };
    const answers = targets.map((data) => ({ type: 'PTR' as const, name, ttl: TTL, data }));
    return { kind: 'answer', rcode: 'NOERROR', answers: qtype === 'PTR' || qtype === 'ANY' ? answers : [] };
  }
  if (name !== z && !name.endsWith(`.${z}`)) return { kind: 'forward' };
  const labels = name === z ? [] : name.slice(0, -(z.length + 1)).split('.');
  const records = recordsOf(world, labels, name, z);
  if (records === null) return { kind: 'answer', rcode: 'NXDOMAIN', answers: [] };
  return {
    kind: 'answer',
    rcode: 'NOERROR',
    answers: records.filter(
      (r) => r.type === qtype || (r.type === 'CNAME' && qtype !== 'CNAME') || qtype === 'ANY',
    ),
  };
}

/** Every record at `name` (labels before the zone), or null when the name does not exist. */
function recordsOf(world: ServiceWorld, labels: string[], name: string, zone: string): Answer[] | null {
  const n = labels.length;
  // The apex, `svc.<zone>`, `pod.<zone>` and `<ns>.svc.<zone>` exist (NODATA), as CoreDNS answers them.
  if (n === 0 || (n === 1 && (labels[0] === 'svc' || labels[0] === 'pod'))) return [];
  if (n === 1 && labels[0] === 'dns-version')
    return [{ type: 'TXT', name, ttl: TTL, data: [SCHEMA_VERSION] }];
  if (labels[n - 1] === 'pod' && n === 3) return podRecord(labels[0], name);
  if (labels[n - 1] !== 'svc') return null;
  const ix = indexOf(world);
  if (n === 2) return ix.namespaces.has(labels[0]) ? [] : null;
  const svc = ix.services.get(`${labels[n - 2]}/${labels[n - 3]}`);
  if (!svc) return null;
  if (n === 3) return serviceRecords(world, svc, name, zone);
  if (n === 4) return hostRecords(world, svc, labels[0], name);
  if (n === 5 && labels[0].startsWith('_') && labels[1].startsWith('_'))
    return srvRecords(world, svc, labels[0].slice(1), labels[1].slice(1), name, zone);
  return null;
}

/**
 * The address a reverse name stands for (`4.3.2.1.in-addr.arpa` is 1.2.3.4; `ip6.arpa` takes all 32 nibbles,
 * least significant first, RFC 3596), canonical; null for any other name, a partial one included.
 */
export function reverseAddress(name: string): string | null {
  const v4 = /^((?:\d{1,3}\.){3}\d{1,3})\.in-addr\.arpa$/.exec(name);
  const text = v4
    ? v4[1].split('.').reverse().join('.')
    : /^(?:[0-9a-f]\.){32}ip6\.arpa$/.test(name)
      ? (name.slice(0, 63).split('.').reverse().join('').match(/.{4}/g) ?? []).join(':')
      : null;
  if (text === null) return null;
  try {
    return formatIp(parseIp(text));
  } catch {
    return null;
  }
}

/** Address -> PTR targets: cluster IPs first (one name each), then every endpoint of every Service selecting it. */
function reverseIndex(world: ServiceWorld, zone: string): Map<string, string[]> {
  const ix = indexOf(world);
  if (ix.reverse?.zone === zone) return ix.reverse.byIp;
  const byIp = new Map<string, string[]>();
  const add = (ip: string, target: string) => {
    const key = formatIp(parseIp(ip));
    const list = byIp.get(key);
    if (!list) byIp.set(key, [target]);
    else if (!list.includes(target)) list.push(target);
  };
  const base = (s: Service) => `${s.metadata.name}.${s.metadata.namespace}.svc.${zone}`;
  const clusterIps = new Set<string>();
  for (const s of world.services)
    for (const ip of s.spec.clusterIPs ?? [])
      if (ip !== 'None' && !clusterIps.has(ip)) {
        clusterIps.add(ip);
        add(ip, base(s));
      }
  for (const s of world.services)
    for (const e of endpointsOf(world, s))
      for (const ip of e.ips) if (!clusterIps.has(ip)) add(ip, `${hostLabel(s, e, ip)}.${base(s)}`);
  ix.reverse = { zone, byIp };
  return byIp;
}

/** `a-b-c-d` is A a.b.c.d; an IPv6 address with `-` for `:` (`fd00--5`) is its AAAA, as CoreDNS reads them. */
function podRecord(label: string, name: string): Answer[] | null {
  for (const [ip, family] of [
    [label.replaceAll('-', '.'), 4],
    [label.replaceAll('-', ':'), 6],
  ] as const) {
    try {
      if (familyOf(ip) === family) return [{ type: addressType(ip), name, ttl: TTL, data: ip }];
    } catch {
      /* not an address of this family */
    }
  }
  return null;
}

const addressType = (ip: string): 'A' | 'AAAA' => (familyOf(ip) === 4 ? 'A' : 'AAAA');

function serviceRecords(world: ServiceWorld, svc: Service, name: string, _zone: string): Answer[] | null {
  if (svc.spec.type === 'ExternalName')
    return [{ type: 'CNAME', name, ttl: TTL, data: (svc.spec.externalName ?? '').replace(/\.$/, '') }];
  if (svc.spec.clusterIP === 'None') {
    const ips = endpointsOf(world, svc).flatMap((e) => e.ips);
    if (ips.length === 0) return null;
    return ips.map((ip) => ({ type: addressType(ip), name, ttl: TTL, data: ip }));
  }
  return (svc.spec.clusterIPs ?? []).map((ip) => ({ type: addressType(ip), name, ttl: TTL, data: ip }));
}

function hostRecords(world: ServiceWorld, svc: Service, host: string, name: string): Answer[] | null {
  if (svc.spec.clusterIP !== 'None') return null;
  const ips = endpointsOf(world, svc).flatMap((e) => e.ips.filter((ip) => hostLabel(svc, e, ip) === host));
  return ips.length ? ips.map((ip) => ({ type: addressType(ip), name, ttl: TTL, data: ip })) : null;
}

function srvRecords(
  world: ServiceWorld,
  svc: Service,
  port: string,
  proto: string,
  name: string,
  zone: string,
): Answer[] | null {
  const base = `${svc.metadata.name}.${svc.metadata.namespace}.svc.${zone}`;
  const sp = (svc.spec.ports ?? []).find(
    (p) => p.name === port && (p.protocol ?? 'TCP').toLowerCase() === proto,
  );
  if (!sp) return null;
  if (svc.spec.clusterIP !== 'None')
    return [{ type: 'SRV', name, ttl: TTL, data: { priority: 0, weight: 100, port: sp.port, target: base } }];
  const out: Answer[] = [];
  for (const e of endpointsOf(world, svc)) {
    const p = targetPortOf(sp, e);
    if (p === null) continue;
    for (const ip of e.ips)
      out.push({
        type: 'SRV',
        name,
        ttl: TTL,
        data: { priority: 0, weight: 100, port: p, target: `${hostLabel(svc, e, ip)}.${base}` },
      });
  }
  return out.length ? out : null;
}

/** The SOA that negative answers carry, so caches keep them for the TTL (RFC 2308). */
export function soaOf(zone = DEFAULT_ZONE) {
  return {
    type: 'SOA' as const,
    name: zone,
    ttl: TTL,
    data: {
      mname: `ns.dns.${zone}`,
      rname: `hostmaster.${zone}`,
      serial: 1,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: TTL,
    },
  };
}
