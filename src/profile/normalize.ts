/**
 * The profile format: validates the shape of parsed YAML/JSON data (known fields, types, CIDR and IP syntax)
 * and fills AKS's defaults, giving the normalized `ClusterProfile` with canonical address text.
 */
import { formatCidr, formatIp, parseCidr, parseIp, truncate } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import {
  type Obj,
  closest,
  invalidProfile,
  isObj,
  readEnum,
  readInt,
  readList,
  readObj,
  readOptionalString,
  readString,
} from './read.js';
import type {
  ClusterProfile,
  ConnectedNetwork,
  IpFamily,
  NodePool,
  OsType,
  OutboundType,
  PoolType,
  Subnet,
} from './types.js';

export const DEFAULTS = {
  name: 'podnet',
  podCidr: '10.244.0.0/16',
  podCidrV6: 'fd12:3456:789a::/64',
  serviceCidr: '10.0.0.0/16',
  serviceCidrV6: 'fd12:3456:789a:1::/108',
  dnsServiceIp: '10.0.0.10',
  ipFamilies: ['ipv4'] as IpFamily[],
  outboundType: 'loadBalancer' as OutboundType,
  /** The VNet AKS creates when you bring none: 10.224.0.0/12 with the node subnet 10.224.0.0/16. */
  vnet: {
    name: 'aks-vnet',
    addressSpace: '10.224.0.0/12',
    subnetName: 'aks-subnet',
    subnetCidr: '10.224.0.0/16',
  },
  pool: {
    name: 'nodepool1',
    count: 3,
    maxPods: 250,
    maxSurge: 1,
    osType: 'Linux' as OsType,
    vmSize: 'Standard_DS2_v2',
    type: 'VirtualMachineScaleSets' as PoolType,
  },
} as const;

export const OUTBOUND_TYPES: readonly OutboundType[] = [
  'loadBalancer',
  'managedNATGateway',
  'userDefinedRouting',
];
const OS_TYPES: readonly OsType[] = ['Linux', 'Windows'];
const POOL_TYPES: readonly PoolType[] = ['VirtualMachineScaleSets', 'AvailabilitySet'];
const IP_FAMILIES: readonly IpFamily[] = ['ipv4', 'ipv6'];
const CONNECTION_KINDS: readonly ConnectedNetwork['kind'][] = ['peering', 'expressRoute', 'vpn'];
const MAX_ITEMS = 1000;
/** Generous bounds for shape checking only; the AKS limits (10..250 pods, 5,000 nodes) are plan rules. */
const MAX_COUNT = 100_000;
const VM_SIZE = /^[A-Za-z0-9_-]{1,64}$/;

const TOP_FIELDS = [
  'apiVersion',
  'kind',
  'name',
  'resourceGroup',
  'vnet',
  'connectedNetworks',
  'networkProfile',
  'agentPoolProfiles',
] as const;
const NETWORK_FIELDS = [
  'networkPlugin',
  'networkPluginMode',
  'podCidr',
  'podCidrs',
  'serviceCidr',
  'serviceCidrs',
  'dnsServiceIP',
  'ipFamilies',
  'outboundType',
  'nonMasqueradeCidrs',
] as const;
const POOL_FIELDS = [
  'name',
  'count',
  'vmSize',
  'osType',
  'osSKU',
  'maxPods',
  'type',
  'vnetSubnetName',
  'upgradeSettings',
] as const;

const VNET_FIELDS = ['name', 'resourceGroup', 'addressSpaces', 'subnets'] as const;
const SUBNET_FIELDS = ['name', 'cidr', 'cidrs'] as const;
const CONNECTED_FIELDS = ['name', 'kind', 'cidrs'] as const;
const SURGE_FIELDS = ['maxSurge'] as const;

/** Where each mapping of the format sits (`[]` = every item of a list) and the fields it may have. */
const FORMAT: [string, readonly string[]][] = [
  ['', TOP_FIELDS],
  ['vnet', VNET_FIELDS],
  ['vnet.subnets[]', SUBNET_FIELDS],
  ['connectedNetworks[]', CONNECTED_FIELDS],
  ['networkProfile', NETWORK_FIELDS],
  ['agentPoolProfiles[]', POOL_FIELDS],
  ['agentPoolProfiles[].upgradeSettings', SURGE_FIELDS],
];

/**
 * AKS fields people copy into a podnet profile, and what to do instead: the nearest spelling would mislead
 * ("mode" is not a typo of "name").
 */
const AKS_ONLY: Record<string, string> = {
  vnetSubnetId: 'name the subnet with vnetSubnetName',
  vnetSubnetID: 'name the subnet with vnetSubnetName',
  mode: 'podnet has no System/User pool mode; remove it',
  enableAutoScaling: 'give the most nodes the pool may scale to as count',
  minCount: 'give the most nodes the pool may scale to as count',
  maxCount: 'give the most nodes the pool may scale to as count',
  networkPolicy: 'podnet enforces NetworkPolicy itself; remove it',
  networkDataplane: 'podnet has one dataplane; remove it',
  loadBalancerSku: 'remove it; the plan does not depend on it',
  properties: 'an ARM resource: pass the whole resource, with its "type", and podnet reads it as AKS input',
};

export interface UnknownField {
  field: string;
  /** The field meant, or what to do, when it can be told. */
  advice?: string;
}

/** Every field of `data` the format does not know, in document order (the shape errors come later). */
export function unknownFields(data: unknown): UnknownField[] {
  const found: UnknownField[] = [];
  const allowedAt = new Map(FORMAT);
  const walk = (v: unknown, shape: string, path: string) => {
    const allowed = allowedAt.get(shape);
    if (allowed === undefined || !isObj(v)) return;
    for (const [key, child] of Object.entries(v)) {
      const at = path ? `${path}.${key === '' ? '""' : key}` : key === '' ? '""' : key;
      const inner = shape ? `${shape}.${key}` : key;
      if (!allowed.includes(key)) {
        const near = closest(key, allowed);
        const advice =
          near && near.toLowerCase() === key.toLowerCase()
            ? `did you mean "${near}"?`
            : (AKS_ONLY[key] ?? (near ? `did you mean "${near}"?` : undefined));
        found.push({ field: at, ...(advice ? { advice } : {}) });
      } else if (Array.isArray(child))
        child.slice(0, MAX_ITEMS).forEach((x, i) => walk(x, `${inner}[]`, `${at}[${i}]`));
      else walk(child, inner, at);
    }
  };
  walk(data, '', '');
  return found;
}

function refuseUnknownFields(data: unknown): void {
  const unknown = unknownFields(data);
  if (unknown.length === 0) return;
  const shown = unknown
    .slice(0, 20)
    .map((u) => `"${truncate(u.field, 60)}"${u.advice ? ` (${u.advice})` : ''}`)
    .join(', ');
  const more = unknown.length > 20 ? ` and ${unknown.length - 20} more` : '';
  const first = unknown[0].field;
  const parent = first.includes('.') ? first.slice(0, first.lastIndexOf('.')).replace(/\[\d+\]/g, '[]') : '';
  throw new PodnetError(
    'InvalidProfile',
    `${unknown.length === 1 ? 'unknown field' : `${unknown.length} unknown fields`} ${shown}${more}`,
    {
      field: first,
      hint: `allowed fields ${parent ? `in ${parent}` : 'at the top level'}: ${(allowedAtPath(parent) ?? TOP_FIELDS).join(', ')}; az aks show -o json output and ARM resources are read as they are`,
      details: { unknownFields: unknown },
    },
  );
}

function allowedAtPath(shape: string): readonly string[] | undefined {
  return new Map(FORMAT).get(shape);
}

/** Validates the shape of parsed data and returns the normalized profile with defaults filled in. */
export function profileFromObject(data: unknown): ClusterProfile {
  refuseUnknownFields(data);
  const top = readObj(data, '', TOP_FIELDS);
  if (top.apiVersion !== undefined && top.apiVersion !== 'podnet.io/v1alpha1') {
    throw invalidProfile(
      'apiVersion',
      `unsupported apiVersion ${JSON.stringify(top.apiVersion)}`,
      'use podnet.io/v1alpha1',
    );
  }
  if (top.kind !== undefined && top.kind !== 'ClusterProfile') {
    throw invalidProfile('kind', `unsupported kind ${JSON.stringify(top.kind)}`, 'use ClusterProfile');
  }
  const name = readString(top, 'name', 'name', { default: DEFAULTS.name });
  const resourceGroup = readOptionalString(top, 'resourceGroup', 'resourceGroup');
  const vnet = readVnet(top.vnet);
  const connectedNetworks = readList(top, 'connectedNetworks', 'connectedNetworks', { max: MAX_ITEMS }).map(
    (v, i) => readConnected(v, `connectedNetworks[${i}]`),
  );
  const network = readNetwork(top.networkProfile ?? {});
  const pools = readList(top, 'agentPoolProfiles', 'agentPoolProfiles', { max: MAX_ITEMS });
  if (pools.length === 0) {
    throw invalidProfile(
      'agentPoolProfiles',
      'a cluster needs at least one node pool',
      'add agentPoolProfiles: [{name: nodepool1, count: 3}]',
    );
  }
  const nodePools = pools.map((v, i) => readPool(v, `agentPoolProfiles[${i}]`, vnet.subnets));
  return {
    name,
    ...(resourceGroup === undefined ? {} : { resourceGroup }),
    vnet,
    connectedNetworks,
    network,
    nodePools,
  };
}

function cidrText(v: unknown, field: string): string {
  return formatCidr(parseCidr(v, field));
}

function readVnet(v: unknown): ClusterProfile['vnet'] {
  if (v === undefined || v === null) {
    const d = DEFAULTS.vnet;
    return {
      name: d.name,
      addressSpaces: [d.addressSpace],
      subnets: [{ name: d.subnetName, cidr: d.subnetCidr }],
    };
  }
  const o = readObj(v, 'vnet', VNET_FIELDS);
  const name = readString(o, 'name', 'vnet.name', { default: DEFAULTS.vnet.name });
  const resourceGroup = readOptionalString(o, 'resourceGroup', 'vnet.resourceGroup');
  const addressSpaces = readList(o, 'addressSpaces', 'vnet.addressSpaces', {
    max: MAX_ITEMS,
    commaText: true,
  }).map((c, i) => cidrText(c, `vnet.addressSpaces[${i}]`));
  if (addressSpaces.length === 0) {
    throw invalidProfile(
      'vnet.addressSpaces',
      'the VNet needs at least one address space',
      'add addressSpaces: [10.224.0.0/12]',
    );
  }
  const subnets: Subnet[] = readList(o, 'subnets', 'vnet.subnets', { max: MAX_ITEMS }).map((s, i) => {
    const f = `vnet.subnets[${i}]`;
    const so = readObj(s, f, SUBNET_FIELDS);
    return { name: readString(so, 'name', `${f}.name`), ...subnetCidrs(so, f) };
  });
  if (subnets.length === 0) {
    throw invalidProfile(
      'vnet.subnets',
      'the VNet needs at least one subnet for the nodes',
      'add subnets: [{name: nodes, cidr: 10.224.0.0/16}]',
    );
  }
  return { name, ...(resourceGroup === undefined ? {} : { resourceGroup }), addressSpaces, subnets };
}

function readConnected(v: unknown, field: string): ConnectedNetwork {
  const o = readObj(v, field, CONNECTED_FIELDS);
  const cidrs = readList(o, 'cidrs', `${field}.cidrs`, { max: MAX_ITEMS, commaText: true }).map((c, i) =>
    cidrText(c, `${field}.cidrs[${i}]`),
  );
  if (cidrs.length === 0)
    throw invalidProfile(
      `${field}.cidrs`,
      'a connected network needs its CIDRs',
      'add cidrs: [192.168.0.0/16]',
    );
  return {
    name: readString(o, 'name', `${field}.name`),
    kind: readEnum(o, 'kind', `${field}.kind`, CONNECTION_KINDS, 'peering'),
    cidrs,
  };
}

/** `podCidr` (one) and `podCidrs` (per family) are both AKS spellings; accept either, not both. */
function readCidrs(o: Obj, one: string, many: string, field: string): string[] | undefined {
  if (o[one] !== undefined && o[many] !== undefined) {
    throw invalidProfile(
      `${field}.${many}`,
      `give either ${one} or ${many}, not both`,
      `keep ${many} for dual-stack, ${one} otherwise`,
    );
  }
  if (o[one] !== undefined) return [cidrText(o[one], `${field}.${one}`)];
  if (o[many] === undefined) return undefined;
  const list = readList(o, many, `${field}.${many}`, { max: 2, commaText: true });
  if (list.length === 0)
    throw invalidProfile(
      `${field}.${many}`,
      `${many} is empty`,
      'remove it for the default or give one CIDR per IP family',
    );
  return list.map((c, i) => cidrText(c, `${field}.${many}[${i}]`));
}

function readNetwork(v: unknown): ClusterProfile['network'] {
  const f = 'networkProfile';
  const o = readObj(v, f, NETWORK_FIELDS);
  // podnet implements one model; accepting the AKS fields lets an exported AKS profile load unchanged.
  readEnum(o, 'networkPlugin', `${f}.networkPlugin`, ['azure'], 'azure');
  readEnum(o, 'networkPluginMode', `${f}.networkPluginMode`, ['overlay'], 'overlay');
  const families = readList(o, 'ipFamilies', `${f}.ipFamilies`, { max: 2, commaText: true });
  const ipFamilies: IpFamily[] =
    families.length === 0
      ? [...DEFAULTS.ipFamilies]
      : families.map((x, i) => readEnum({ x }, 'x', `${f}.ipFamilies[${i}]`, IP_FAMILIES, 'ipv4'));
  const dual = ipFamilies.includes('ipv6');
  const podCidrs =
    readCidrs(o, 'podCidr', 'podCidrs', f) ??
    (dual ? [DEFAULTS.podCidr, DEFAULTS.podCidrV6] : [DEFAULTS.podCidr]);
  const serviceCidrs =
    readCidrs(o, 'serviceCidr', 'serviceCidrs', f) ??
    (dual ? [DEFAULTS.serviceCidr, DEFAULTS.serviceCidrV6] : [DEFAULTS.serviceCidr]);
  const dnsServiceIp = formatIp(parseIp(o.dnsServiceIP ?? DEFAULTS.dnsServiceIp, `${f}.dnsServiceIP`));
  const outboundType = readEnum(
    o,
    'outboundType',
    `${f}.outboundType`,
    OUTBOUND_TYPES,
    DEFAULTS.outboundType,
  );
  const nonMasqueradeCidrs = readList(o, 'nonMasqueradeCidrs', `${f}.nonMasqueradeCidrs`, {
    max: MAX_ITEMS,
    commaText: true,
  }).map((c, i) => cidrText(c, `${f}.nonMasqueradeCidrs[${i}]`));
  return { podCidrs, serviceCidrs, dnsServiceIp, ipFamilies, outboundType, nonMasqueradeCidrs };
}

function readPool(v: unknown, field: string, subnets: Subnet[]): NodePool {
  const o = readObj(v, field, POOL_FIELDS);
  const osType = readEnum(o, 'osType', `${field}.osType`, OS_TYPES, DEFAULTS.pool.osType);
  const count = readInt(o, 'count', `${field}.count`, {
    default: DEFAULTS.pool.count,
    min: 0,
    max: MAX_COUNT,
  });
  const vmSize = readString(o, 'vmSize', `${field}.vmSize`, { default: DEFAULTS.pool.vmSize });
  if (!VM_SIZE.test(vmSize)) {
    throw invalidProfile(
      `${field}.vmSize`,
      `"${truncate(vmSize)}" is not a VM size name`,
      'use an Azure VM size such as Standard_D4s_v5',
    );
  }
  let subnet = readOptionalString(o, 'vnetSubnetName', `${field}.vnetSubnetName`);
  if (subnet === undefined) {
    if (subnets.length > 1) {
      throw invalidProfile(
        `${field}.vnetSubnetName`,
        'the VNet has several subnets, so each node pool must name its subnet',
        `add vnetSubnetName: one of ${subnets.map((s) => s.name).join(', ')}`,
      );
    }
    subnet = subnets[0].name;
  }
  return {
    name: readString(o, 'name', `${field}.name`),
    subnet,
    osType,
    osSku: readString(o, 'osSKU', `${field}.osSKU`, {
      default: osType === 'Windows' ? 'Windows2022' : 'Ubuntu',
    }),
    vmSize,
    count,
    maxPods: readInt(o, 'maxPods', `${field}.maxPods`, {
      default: DEFAULTS.pool.maxPods,
      min: 0,
      max: MAX_COUNT,
    }),
    maxSurge: readSurge(o.upgradeSettings, `${field}.upgradeSettings`, count),
    type: readEnum(o, 'type', `${field}.type`, POOL_TYPES, DEFAULTS.pool.type),
  };
}

/** Max surge as AKS takes it: a node count or a percentage of the pool (rounded up), default 1 node. */
export function surgeNodes(v: unknown, field: string, count: number): number {
  if (v === undefined || v === null) return DEFAULTS.pool.maxSurge;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_COUNT) return v;
  if (typeof v === 'string') {
    const m = /^\s*([0-9]{1,6})\s*(%?)\s*$/.exec(v);
    if (m) {
      const n = Number(m[1]);
      if (m[2] === '') return n;
      if (n >= 1 && n <= 100) return Math.ceil((count * n) / 100);
    }
  }
  throw invalidProfile(
    field,
    `max surge ${truncate(JSON.stringify(v) ?? String(v), 32)} is neither a node count nor a percentage from 1% to 100%`,
    'write maxSurge as a whole number of nodes (1) or a percentage ("33%")',
  );
}

function readSurge(v: unknown, field: string, count: number): number {
  if (v === undefined || v === null) return DEFAULTS.pool.maxSurge;
  const o = readObj(v, field, SURGE_FIELDS);
  return surgeNodes(o.maxSurge, `${field}.maxSurge`, count);
}

/**
 * A profile in the format it is written in (`networkProfile`, `dnsServiceIP`, `vnetSubnetName`, ...), so what
 * `podnet cluster show -o yaml` prints is a profile `podnet plan -f` and `cluster update -f` take back.
 */
/**
 * A subnet's prefixes: `cidr` (IPv4), or `cidrs` [IPv4, IPv6] for a dual-stack subnet, as Azure's
 * addressPrefix / addressPrefixes.
 */
function subnetCidrs(o: Obj, f: string): Pick<Subnet, 'cidr' | 'cidr6'> {
  if (o.cidr === undefined && o.cidrs === undefined) return { cidr: cidrText(undefined, `${f}.cidr`) };
  const list = readCidrs(o, 'cidr', 'cidrs', f) as string[];
  const families = list.map((c) => parseCidr(c).family);
  if (list.length === 2 && (families[0] !== 4 || families[1] !== 6)) {
    throw invalidProfile(
      `${f}.cidrs`,
      `subnet prefixes [${list.join(', ')}] must be one IPv4 prefix, then one IPv6 prefix`,
      'write cidrs: [10.224.0.0/16, "fd00:10::/64"]',
    );
  }
  if (families[0] !== 4) {
    throw invalidProfile(
      `${f}.${o.cidr === undefined ? 'cidrs' : 'cidr'}`,
      `subnet prefix ${list[0]} is not IPv4; every subnet has an IPv4 prefix (IPv6 comes second, in cidrs)`,
      'write cidrs: [10.224.0.0/16, "fd00:10::/64"]',
    );
  }
  return { cidr: list[0], ...(list[1] ? { cidr6: list[1] } : {}) };
}

export function profileToObject(p: ClusterProfile): Obj {
  return {
    apiVersion: 'podnet.io/v1alpha1',
    kind: 'ClusterProfile',
    name: p.name,
    ...(p.resourceGroup === undefined ? {} : { resourceGroup: p.resourceGroup }),
    vnet: {
      name: p.vnet.name,
      ...(p.vnet.resourceGroup === undefined ? {} : { resourceGroup: p.vnet.resourceGroup }),
      addressSpaces: p.vnet.addressSpaces,
      subnets: p.vnet.subnets.map((s) =>
        s.cidr6 ? { name: s.name, cidrs: [s.cidr, s.cidr6] } : { name: s.name, cidr: s.cidr },
      ),
    },
    connectedNetworks: p.connectedNetworks.map((c) => ({ name: c.name, kind: c.kind, cidrs: c.cidrs })),
    networkProfile: {
      networkPlugin: 'azure',
      networkPluginMode: 'overlay',
      podCidrs: p.network.podCidrs,
      serviceCidrs: p.network.serviceCidrs,
      dnsServiceIP: p.network.dnsServiceIp,
      ipFamilies: p.network.ipFamilies,
      outboundType: p.network.outboundType,
      nonMasqueradeCidrs: p.network.nonMasqueradeCidrs,
    },
    agentPoolProfiles: p.nodePools.map((n) => ({
      name: n.name,
      vnetSubnetName: n.subnet,
      count: n.count,
      vmSize: n.vmSize,
      osType: n.osType,
      osSKU: n.osSku,
      maxPods: n.maxPods,
      type: n.type,
      upgradeSettings: { maxSurge: n.maxSurge },
    })),
  };
}
