/**
 * Every address-planning rule of Azure CNI Overlay, as pure functions over the parsed plan context. Each finding
 * has a stable code (in src/errors/catalogue.ts, listed with meaning and fix in docs/errors.md), the profile
 * field, and a message saying what to change. Errors make a plan invalid; warnings flag what AKS allows but what tends to hurt later.
 */
import {
  AKS_RESERVED_RANGES,
  BLOCK_PREFIX,
  type Cidr,
  blockCount,
  cidrSize,
  classify,
  containsCidr,
  containsIp,
  formatIp,
  ipAt,
  overlaps,
  parseCidr,
} from '../addr/index.js';
import type { ErrorCode } from '../errors/index.js';
import type { NodePool } from '../profile/types.js';
import { DNS_FIELD, type Finding, type Located, type PlanContext, poolField } from './context.js';

export const LIMITS = {
  maxNodes: 5000,
  minMaxPods: 10,
  maxMaxPods: 250,
  /** Pools whose max pods is below this must hold this many pods in total (AKS: 10 only if the pool fits 30). */
  minPoolPods: 30,
  windowsRecommendedMaxPods: 110,
  /** Azure reserves the network address, the next three (gateway, two DNS) and the broadcast address. */
  azureReservedPerSubnet: 5,
  nameMaxLength: 63,
  /**
   * Service CIDR: AKS says it "must be smaller than /12". Microsoft's answer on the docs
   * (MicrosoftDocs/azure-docs#13444) reads that as address count, so the prefix must be longer than 12.
   * kube-apiserver itself would take a /12, but AKS's docs say strictly "smaller than", and a plan that passes
   * here must not fail in AKS, so the shortest IPv4 prefix podnet accepts is /13.
   */
  minServicePrefixV4: 13,
  /** Dual-stack: the IPv6 service CIDR "can be no larger than /108" (so /108 itself is fine). */
  minServicePrefixV6: 108,
  /** ip-masq-agent takes at most 64 non-masquerade CIDRs, the pod CIDRs included. */
  maxNonMasqueradeCidrs: 64,
} as const;

type Add = (code: ErrorCode, field: string, message: string) => void;

export function errorAdder(ctx: PlanContext): Add {
  return (code, field, message) => ctx.errors.push({ code, field, message } satisfies Finding);
}

export function warningAdder(ctx: PlanContext): Add {
  return (code, field, message) => ctx.warnings.push({ code, field, message } satisfies Finding);
}

function reservedOverlap(c: Cidr): (typeof AKS_RESERVED_RANGES)[number] | undefined {
  return AKS_RESERVED_RANGES.find((r) => overlaps(r.cidr, c));
}

/** Nodes each pool adds during an upgrade, and totals per subnet. */
export function nodesIncludingSurge(pool: NodePool): number {
  return pool.count + pool.maxSurge;
}

export function familyRules(ctx: PlanContext): void {
  const err = errorAdder(ctx);
  const { ipFamilies, outboundType } = ctx.profile.network;
  const fams = ipFamilies.join(',');
  if (fams !== 'ipv4' && fams !== 'ipv4,ipv6') {
    err(
      'IpFamiliesUnsupported',
      'networkProfile.ipFamilies',
      `IP families "${fams}" are not supported; overlay clusters are IPv4 (ipv4) or dual-stack (ipv4,ipv6), never IPv6-only`,
    );
  }
  const want = ipFamilies.map((f) => (f === 'ipv4' ? 4 : 6));
  for (const [list, key, texts] of [
    [ctx.pods, 'podCidrs', ctx.profile.network.podCidrs],
    [ctx.services, 'serviceCidrs', ctx.profile.network.serviceCidrs],
  ] as const) {
    const got = list.map((l) => l.cidr.family);
    if (texts.length !== want.length || got.some((f, i) => f !== want[i])) {
      err(
        'CidrFamilyMismatch',
        `networkProfile.${key}`,
        `${key} [${texts.join(', ')}] must give one CIDR per IP family in the order of ipFamilies [${ipFamilies.join(', ')}]` +
          (want.length === 1 && texts.length === 2 ? '; set ipFamilies: [ipv4, ipv6] for dual-stack' : ''),
      );
    }
  }
  if (want.includes(6) && outboundType === 'managedNATGateway') {
    err(
      'OutboundTypeUnsupportedForDualStack',
      'networkProfile.outboundType',
      'dual-stack clusters cannot use a managed NAT gateway for outbound traffic; use loadBalancer or userDefinedRouting',
    );
  }
}

export function podCidrRules(ctx: PlanContext): void {
  const err = errorAdder(ctx);
  const warn = warningAdder(ctx);
  for (const p of ctx.pods) {
    const reserved = reservedOverlap(p.cidr);
    const cls = classify(p.cidr);
    if (reserved) {
      err(
        'PodCidrOverlapsReservedRange',
        p.field,
        `pod CIDR ${p.text} overlaps ${reserved.text} (${reserved.why}); choose a range outside 169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16 and 192.0.2.0/24, e.g. 10.244.0.0/16`,
      );
    } else if (cls === 'special') {
      err(
        'PodCidrSpecialRange',
        p.field,
        `pod CIDR ${p.text} touches loopback, link-local, multicast or documentation space; choose a private range such as 10.244.0.0/16`,
      );
    } else if (cls === 'public') {
      warn(
        'PodCidrPublic',
        p.field,
        p.cidr.family === 4
          ? `pod CIDR ${p.text} is public address space: AKS does not block it but does not support it, and pods could not reach the real owners of those addresses; use RFC 1918 (10/8, 172.16/12, 192.168/16) or RFC 6598 (100.64/10)`
          : `IPv6 pod CIDR ${p.text} is not a unique local address; use a range inside fc00::/7 such as fd12:3456:789a::/64`,
      );
    }
    const hitSpaces = ctx.vnet.filter((v) => overlaps(v.cidr, p.cidr));
    for (const v of hitSpaces) {
      err(
        'PodCidrOverlapsVnet',
        p.field,
        `pod CIDR ${p.text} overlaps the VNet address space ${v.text} (${v.field}); pods and nodes would share addresses. Choose a pod CIDR outside the VNet`,
      );
    }
    for (const s of ctx.subnets) {
      if (!overlaps(s.cidr, p.cidr) || hitSpaces.some((v) => containsCidr(v.cidr, s.cidr))) continue;
      err(
        'PodCidrOverlapsSubnet',
        p.field,
        `pod CIDR ${p.text} overlaps node subnet "${s.name}" ${s.text}; choose a pod CIDR outside every node subnet`,
      );
    }
    for (const s of ctx.services.filter((x) => overlaps(x.cidr, p.cidr))) {
      err(
        'PodCidrOverlapsServiceCidr',
        p.field,
        `pod CIDR ${p.text} overlaps the service CIDR ${s.text}; pod and service addresses must be distinct ranges`,
      );
    }
    for (const c of ctx.connected.filter((x) => overlaps(x.cidr, p.cidr))) {
      err(
        'PodCidrOverlapsConnectedNetwork',
        p.field,
        `pod CIDR ${p.text} overlaps ${c.text} of connected network "${c.name}" (${c.field}); traffic to those hosts would be captured by the overlay and they would become unreachable. Choose a pod CIDR that no peered, ExpressRoute or VPN network uses`,
      );
    }
  }
}

export function serviceCidrRules(ctx: PlanContext): void {
  const err = errorAdder(ctx);
  const warn = warningAdder(ctx);
  for (const s of ctx.services) {
    const minPrefix = s.cidr.family === 4 ? LIMITS.minServicePrefixV4 : LIMITS.minServicePrefixV6;
    if (s.cidr.prefix < minPrefix) {
      err(
        'ServiceCidrTooLarge',
        s.field,
        s.cidr.family === 4
          ? `service CIDR ${s.text} is too large: AKS requires it smaller than /12; use /${minPrefix} or a longer prefix (a /16 gives 65,536 services)`
          : `IPv6 service CIDR ${s.text} is too large: it can be no larger than /108; use /108 or a longer prefix`,
      );
    }
    const reserved = reservedOverlap(s.cidr);
    if (reserved) {
      err(
        'ServiceCidrOverlapsReservedRange',
        s.field,
        `service CIDR ${s.text} overlaps ${reserved.text} (${reserved.why}); choose a range such as 10.0.0.0/16`,
      );
    } else if (classify(s.cidr) === 'special') {
      err(
        'ServiceCidrSpecialRange',
        s.field,
        `service CIDR ${s.text} touches loopback, link-local, multicast or documentation space; choose a private range such as 10.0.0.0/16`,
      );
    }
    const hitSubnets = ctx.subnets.filter((x) => overlaps(x.cidr, s.cidr));
    for (const sub of hitSubnets) {
      err(
        'ServiceCidrOverlapsSubnet',
        s.field,
        `service CIDR ${s.text} overlaps node subnet "${sub.name}" ${sub.text}; service addresses would shadow nodes. Choose a service CIDR outside the VNet`,
      );
    }
    for (const v of ctx.vnet) {
      if (!overlaps(v.cidr, s.cidr) || hitSubnets.some((x) => overlaps(x.cidr, v.cidr))) continue;
      warn(
        'ServiceCidrOverlapsVnet',
        s.field,
        `service CIDR ${s.text} overlaps the VNet address space ${v.text}; a subnet added there later could not be reached from pods. Prefer a service CIDR outside the VNet`,
      );
    }
    for (const c of ctx.connected.filter((x) => overlaps(x.cidr, s.cidr))) {
      warn(
        'ServiceCidrOverlapsConnectedNetwork',
        s.field,
        `service CIDR ${s.text} overlaps ${c.text} of connected network "${c.name}"; pods could not reach those hosts. Prefer a service CIDR no connected network uses`,
      );
    }
  }
}

export function dnsRules(ctx: PlanContext): void {
  const err = errorAdder(ctx);
  const dns = ctx.dns;
  if (!dns) return;
  const ip = formatIp(dns);
  const svc = ctx.services.find((s) => containsIp(s.cidr, dns));
  if (!svc) {
    const ranges = ctx.services.map((s) => s.text).join(', ');
    const first = ctx.services[0];
    err(
      'DnsServiceIpOutsideServiceCidr',
      DNS_FIELD,
      `DNS service IP ${ip} is not inside the service CIDR ${ranges}; pick an address inside it${first ? `, e.g. ${suggestedDns(first.cidr)}` : ''}`,
    );
    return;
  }
  const offset = dns.value - svc.cidr.network;
  const last = cidrSize(svc.cidr) - 1n;
  const why =
    offset === 0n
      ? 'the network address of the service CIDR'
      : offset === 1n
        ? 'the first address, which Kubernetes gives to the API server service (kubernetes.default)'
        : dns.family === 4 && offset === last
          ? 'the broadcast address of the service CIDR'
          : undefined;
  if (why) {
    err(
      'DnsServiceIpReserved',
      DNS_FIELD,
      `DNS service IP ${ip} is ${why}, so cluster DNS would break; use another address of ${svc.text}, e.g. ${suggestedDns(svc.cidr)}`,
    );
  }
}

/** AKS's habit: the 10th address of the service CIDR (10.0.0.10 in 10.0.0.0/16). */
function suggestedDns(c: Cidr): string {
  return cidrSize(c) > 10n ? formatIp(ipAt(c, 10)) : formatIp(ipAt(c, 2));
}

export function vnetRules(ctx: PlanContext): void {
  const err = errorAdder(ctx);
  ctx.vnet.forEach((v, i) => {
    const reserved = reservedOverlap(v.cidr);
    if (reserved) {
      err(
        'VnetOverlapsReservedRange',
        v.field,
        `VNet address space ${v.text} overlaps ${reserved.text} (${reserved.why}); AKS cannot use it. Choose an address space outside it`,
      );
    }
    for (const w of ctx.vnet.slice(i + 1).filter((x) => overlaps(x.cidr, v.cidr))) {
      err(
        'VnetAddressSpacesOverlap',
        w.field,
        `VNet address spaces ${v.text} and ${w.text} overlap; list each range once`,
      );
    }
  });
  const seen = new Map<string, number>();
  ctx.profile.vnet.subnets.forEach((s, i) => {
    if (seen.has(s.name)) {
      err(
        'DuplicateSubnetName',
        `vnet.subnets[${i}].name`,
        `subnet name "${s.name}" is used twice; subnet names must be unique`,
      );
    }
    seen.set(s.name, i);
  });
  ctx.subnets.forEach((s, i) => {
    if (!ctx.vnet.some((v) => containsCidr(v.cidr, s.cidr))) {
      err(
        'SubnetOutsideVnet',
        s.field,
        `subnet "${s.name}" ${s.text} is not inside any VNet address space (${ctx.vnet.map((v) => v.text).join(', ')}); move it into the VNet or add an address space`,
      );
    }
    for (const t of ctx.subnets.slice(i + 1).filter((x) => overlaps(x.cidr, s.cidr))) {
      err(
        'SubnetsOverlap',
        t.field,
        `subnets "${s.name}" ${s.text} and "${t.name}" ${t.text} overlap; subnets of a VNet must be disjoint`,
      );
    }
  });
  // A dual-stack subnet's IPv6 prefix: Azure's IPv6 subnets are exactly /64, inside an IPv6 address space.
  ctx.profile.vnet.subnets.forEach((s, i) => {
    if (!s.cidr6) return;
    const c = parseCidr(s.cidr6);
    const field = `vnet.subnets[${i}].cidrs[1]`;
    if (c.prefix !== 64) {
      err(
        'SubnetIpv6PrefixSize',
        field,
        `subnet "${s.name}" IPv6 prefix ${s.cidr6} is a /${c.prefix}; Azure dual-stack subnets take an IPv6 /64`,
      );
    }
    if (!ctx.vnet.some((v) => v.cidr.family === 6 && containsCidr(v.cidr, c))) {
      err(
        'SubnetOutsideVnet',
        field,
        `subnet "${s.name}" IPv6 prefix ${s.cidr6} is not inside any IPv6 VNet address space; add one (e.g. fd00:10::/48) or move the prefix into it`,
      );
    }
  });
  for (const c of ctx.connected) {
    for (const v of ctx.vnet.filter((x) => overlaps(x.cidr, c.cidr))) {
      err(
        'ConnectedNetworkOverlapsVnet',
        c.field,
        `connected network "${c.name}" ${c.text} overlaps the VNet address space ${v.text}; Azure cannot peer or route to overlapping address spaces`,
      );
    }
  }
  const masq = ctx.nonMasquerade.length + ctx.pods.length;
  if (masq > LIMITS.maxNonMasqueradeCidrs) {
    err(
      'TooManyNonMasqueradeCidrs',
      'networkProfile.nonMasqueradeCidrs',
      `${ctx.nonMasquerade.length} non-masquerade CIDRs plus the pod CIDRs make ${masq}; at most ${LIMITS.maxNonMasqueradeCidrs} are supported. Merge them into fewer, larger ranges`,
    );
  }
}

/** Kubernetes label value syntax: the names become node labels. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function nameRules(ctx: PlanContext): void {
  const err = errorAdder(ctx);
  const p = ctx.profile;
  const names: [string, string | undefined, string][] = [
    ['vnet.name', p.vnet.name, 'VNet name'],
    p.vnet.resourceGroup !== undefined
      ? ['vnet.resourceGroup', p.vnet.resourceGroup, 'resource group of the VNet']
      : ['resourceGroup', p.resourceGroup, 'resource group of the VNet'],
    ...p.vnet.subnets.map((s, i): [string, string, string] => [
      `vnet.subnets[${i}].name`,
      s.name,
      'subnet name',
    ]),
  ];
  for (const [field, value, what] of names) {
    if (value === undefined) continue;
    if (value.length > LIMITS.nameMaxLength) {
      err(
        'NameTooLong',
        field,
        `${what} "${value.slice(0, 20)}…" has ${value.length} characters; AKS uses it as a node label, so it may have at most ${LIMITS.nameMaxLength}`,
      );
    } else if (!LABEL_VALUE.test(value)) {
      err(
        'NameNotLabelValue',
        field,
        `${what} "${value}" is not a valid Kubernetes label value (letters, digits, "-", "_" and ".", starting and ending with a letter or digit); AKS puts it in node labels, so rename it`,
      );
    }
  }
}

const DCSV2 = /^Standard_DC[0-9]+s?_v2$/i;
/** AKS node pool names: lower-case alphanumerics starting with a letter, 12 characters (Windows: 6). */
const POOL_NAME = { Linux: /^[a-z][a-z0-9]{0,11}$/, Windows: /^[a-z][a-z0-9]{0,5}$/ } as const;

export function poolRules(ctx: PlanContext): void {
  const err = errorAdder(ctx);
  const warn = warningAdder(ctx);
  const pools = ctx.profile.nodePools;
  const subnetNames = new Set(ctx.profile.vnet.subnets.map((s) => s.name));
  const seen = new Set<string>();
  pools.forEach((pool, i) => {
    if (seen.has(pool.name)) {
      err(
        'DuplicateNodePoolName',
        poolField(i, 'name'),
        `node pool name "${pool.name}" is used twice; pool names must be unique`,
      );
    }
    seen.add(pool.name);
    const maxLen = pool.osType === 'Windows' ? 6 : 12;
    if (!POOL_NAME[pool.osType].test(pool.name)) {
      err(
        'NodePoolNameInvalid',
        poolField(i, 'name'),
        `node pool name "${pool.name.slice(0, 40)}" is invalid: ${pool.osType} pool names are 1 to ${maxLen} lower-case letters and digits, starting with a letter`,
      );
    }
    if (!subnetNames.has(pool.subnet)) {
      err(
        'UnknownSubnet',
        poolField(i, 'vnetSubnetName'),
        `node pool "${pool.name}" names subnet "${pool.subnet}", which the VNet does not have; use one of ${[...subnetNames].join(', ')}`,
      );
    }
    if (pool.maxPods < LIMITS.minMaxPods || pool.maxPods > LIMITS.maxMaxPods) {
      err(
        'MaxPodsOutOfRange',
        poolField(i, 'maxPods'),
        `node pool "${pool.name}" has maxPods ${pool.maxPods}; overlay allows ${LIMITS.minMaxPods} to ${LIMITS.maxMaxPods} pods per node (each node's /24 holds 256 addresses)`,
      );
    } else if (pool.maxPods < LIMITS.minPoolPods && pool.maxPods * pool.count < LIMITS.minPoolPods) {
      err(
        'MaxPodsPoolTooSmall',
        poolField(i, 'maxPods'),
        `node pool "${pool.name}" holds ${pool.maxPods * pool.count} pods (${pool.count} nodes x ${pool.maxPods}); maxPods below ${LIMITS.minPoolPods} is allowed only when the pool holds at least ${LIMITS.minPoolPods} pods. Raise maxPods or the node count`,
      );
    }
    if (pool.osType === 'Windows' && pool.maxPods > LIMITS.windowsRecommendedMaxPods) {
      warn(
        'WindowsMaxPodsAboveRecommended',
        poolField(i, 'maxPods'),
        `Windows node pool "${pool.name}" has maxPods ${pool.maxPods}; Windows nodes are recommended to run at most ${LIMITS.windowsRecommendedMaxPods} pods`,
      );
    }
    if (pool.type === 'AvailabilitySet') {
      err(
        'AvailabilitySetNotSupported',
        poolField(i, 'type'),
        `node pool "${pool.name}" uses a VM availability set, which Azure CNI Overlay does not support; use VirtualMachineScaleSets`,
      );
    }
    if (DCSV2.test(pool.vmSize)) {
      err(
        'VmSizeNotSupported',
        poolField(i, 'vmSize'),
        `node pool "${pool.name}" uses ${pool.vmSize}, a DCsv2-series size Azure CNI Overlay does not support; for confidential computing use DCasv5 or DCadsv5-series sizes`,
      );
    }
  });
  // A warning, not an error: the address plan of a Windows-only profile is still worth checking (the quick plan
  // with --os-type Windows is one), but AKS will want a Linux pool for the system pods before it creates anything.
  if (!pools.some((p) => p.osType === 'Linux')) {
    warn(
      'NoLinuxNodePool',
      'agentPoolProfiles',
      'there is no Linux node pool; AKS runs the system pods on Linux nodes, so add a Linux pool before creating the cluster',
    );
  }
  const nodes = pools.reduce((a, p) => a + p.count, 0);
  if (nodes > LIMITS.maxNodes) {
    err(
      'TooManyNodes',
      'agentPoolProfiles',
      `the node pools have ${nodes} nodes; an overlay cluster supports at most ${LIMITS.maxNodes}. Split the workload over more clusters`,
    );
  }
}

export function sizeRules(ctx: PlanContext): void {
  const err = errorAdder(ctx);
  const warn = warningAdder(ctx);
  const pools = ctx.profile.nodePools;
  const nodes = pools.reduce((a, p) => a + p.count, 0);
  const withSurge = pools.reduce((a, p) => a + nodesIncludingSurge(p), 0);
  for (const p of ctx.pods) {
    const blocks = blockCount(p.cidr);
    const size = `/${BLOCK_PREFIX[p.cidr.family]}`;
    const need = (n: number) => prefixFor(p.cidr, n);
    if (blocks < BigInt(nodes) || blocks === 0n) {
      err(
        'PodCidrTooSmall',
        p.field,
        `pod CIDR ${p.text} holds ${blocks} ${size} blocks but every node needs one and there are ${nodes} nodes; use a /${need(Math.max(nodes, 1))} or larger`,
      );
    } else if (blocks < BigInt(withSurge)) {
      warn(
        'PodCidrNoSurgeRoom',
        p.field,
        `pod CIDR ${p.text} holds ${blocks} ${size} blocks: enough for the ${nodes} nodes but not the ${withSurge} an upgrade creates with surge nodes, so upgrades would stall; use a /${need(withSurge)} or larger`,
      );
    }
  }
  for (const s of ctx.subnets) {
    const onIt = pools.filter((p) => p.subnet === s.name);
    if (onIt.length === 0) continue;
    const usable = usableNodeIps(s);
    const n = onIt.reduce((a, p) => a + p.count, 0);
    const ns = onIt.reduce((a, p) => a + nodesIncludingSurge(p), 0);
    if (usable < BigInt(n)) {
      err(
        'SubnetTooSmall',
        s.field,
        `subnet "${s.name}" ${s.text} has ${usable} usable addresses (Azure reserves ${LIMITS.azureReservedPerSubnet}) but its pools need ${n} node IPs; use a /${subnetPrefixFor(s.cidr, n)} or larger`,
      );
    } else if (usable < BigInt(ns)) {
      warn(
        'SubnetNoSurgeRoom',
        s.field,
        `subnet "${s.name}" ${s.text} has ${usable} usable addresses: enough for ${n} nodes but not the ${ns} an upgrade creates with surge nodes; use a /${subnetPrefixFor(s.cidr, ns)} or larger`,
      );
    }
  }
}

export function usableNodeIps(s: Located): bigint {
  const size = cidrSize(s.cidr);
  const reserved = BigInt(LIMITS.azureReservedPerSubnet);
  return size > reserved ? size - reserved : 0n;
}

/** The longest prefix whose CIDR holds `n` blocks. */
function prefixFor(c: Cidr, n: number): number {
  let prefix = BLOCK_PREFIX[c.family];
  while (prefix > 0 && 1n << BigInt(BLOCK_PREFIX[c.family] - prefix) < BigInt(n)) prefix--;
  return prefix;
}

/** The longest subnet prefix with `n` usable addresses after Azure's reserved ones. */
function subnetPrefixFor(c: Cidr, n: number): number {
  const bits = c.family === 4 ? 32 : 128;
  // Azure subnets are at least a /29 (IPv4); start from the same 8 addresses for IPv6.
  let prefix = bits - 3;
  while (prefix > 0 && (1n << BigInt(bits - prefix)) - BigInt(LIMITS.azureReservedPerSubnet) < BigInt(n))
    prefix--;
  return prefix;
}
