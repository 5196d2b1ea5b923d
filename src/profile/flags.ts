/**
 * The one-pool quick plan: `podnet plan --pod-cidr ... --node-count ...` builds the same profile a file would,
 * through the same loader, so flags and files obey exactly the same checks. Problems found in a profile built
 * from flags name the flag (`--pod-cidr`) rather than the file path it stands for.
 */
import { parseCidr, truncate } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { subnetIdParts } from './aks/translate.js';
import { DEFAULTS, profileFromObject } from './normalize.js';
import type { ClusterProfile } from './types.js';

export interface PlanFlags {
  /** One CIDR, or two comma-separated (IPv4,IPv6) for dual-stack. */
  podCidr?: string;
  serviceCidr?: string;
  dnsServiceIp?: string;
  /** `ipv4` or `ipv4,ipv6`. */
  ipFamilies?: string;
  vnetCidr?: string[];
  /** `NAME=CIDR` (or just `CIDR`, named aks-subnet). */
  nodeSubnet?: string;
  /** az aks create's subnet resource id: names the node subnet and its VNet; the prefix comes from --node-subnet. */
  vnetSubnetId?: string;
  connectedCidr?: string[];
  nodeCount?: string | number;
  maxPods?: string | number;
  maxSurge?: string | number;
  osType?: string;
  vmSize?: string;
  /** `az aks create`'s network flags, spelled as az spells them. */
  networkPlugin?: string;
  networkPluginMode?: string;
  networkPolicy?: string;
  networkDataplane?: string;
  outboundType?: string;
  podCidrs?: string;
  serviceCidrs?: string;
  nodeVmSize?: string;
  osSku?: string;
  nodepoolName?: string;
}

/** az aks create flags podnet accepts and does not plan with: their values as az allows them. */
export const IGNORED_AZ_FLAGS: [keyof PlanFlags, string, readonly string[]][] = [
  ['networkPolicy', '--network-policy', ['none', 'azure', 'calico', 'cilium']],
  ['networkDataplane', '--network-dataplane', ['azure', 'cilium']],
];

/** The az aks create flags given that podnet does not plan with (checked against az's values). */
export function ignoredAzFlags(flags: PlanFlags): string[] {
  const given: string[] = [];
  for (const [key, flag, values] of IGNORED_AZ_FLAGS) {
    const v = flags[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !values.includes(v.toLowerCase())) {
      throw new PodnetError(
        'InvalidFlag',
        `${flag} ${JSON.stringify(v)} is not one of ${values.join(', ')}`,
        {
          field: flag,
          hint: `az aks create takes ${flag} ${values.join('|')}`,
        },
      );
    }
    given.push(`${flag} ${v}`);
  }
  return given;
}

/** Which flag sets each profile field in the quick plan. */
const FLAG_OF: [RegExp, string][] = [
  [/^networkProfile\.podCidrs?\b/, '--pod-cidr'],
  [/^networkProfile\.serviceCidrs?\b/, '--service-cidr'],
  [/^networkProfile\.dnsServiceIP\b/, '--dns-service-ip'],
  [/^networkProfile\.ipFamilies\b/, '--ip-families'],
  [/^networkProfile\.networkPluginMode\b/, '--network-plugin-mode'],
  [/^networkProfile\.networkPlugin\b/, '--network-plugin'],
  [/^networkProfile\.outboundType\b/, '--outbound-type'],
  [/^agentPoolProfiles\[0\]\.osSKU\b/, '--os-sku'],
  [/^agentPoolProfiles\[0\]\.name\b/, '--nodepool-name'],
  [/^vnet\.addressSpaces\b/, '--vnet-cidr'],
  [/^vnet\.subnets\b/, '--node-subnet'],
  [/^connectedNetworks\b/, '--connected-cidr'],
  [/^agentPoolProfiles\[0\]\.count\b/, '--node-count'],
  [/^agentPoolProfiles\[0\]\.maxPods\b/, '--max-pods'],
  [/^agentPoolProfiles\[0\]\.upgradeSettings\b/, '--max-surge'],
  [/^agentPoolProfiles\[0\]\.osType\b/, '--os-type'],
  [/^agentPoolProfiles\[0\]\.vmSize\b/, '--vm-size'],
];

/** Findings about the pool as a whole that one flag settles. */
const FLAG_OF_CODE: Record<string, string> = { NoLinuxNodePool: '--os-type', TooManyNodes: '--node-count' };

/** The flag that sets a profile field (or settles a finding's `code`), or the field itself when no flag does. */
export function flagForField(field: string, code?: string): string {
  if (code !== undefined && FLAG_OF_CODE[code]) return FLAG_OF_CODE[code];
  for (const [re, flag] of FLAG_OF) if (re.test(field)) return flag;
  return field;
}

function flagInt(v: string | number | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^[0-9]{1,9}$/.test(v.trim())) return Number(v.trim());
  throw new PodnetError('InvalidFlag', `${flag} ${JSON.stringify(v)} is not a whole number`, {
    field: flag,
    hint: `give ${flag} a whole number, e.g. ${flag} 3`,
  });
}

/**
 * `--node-subnet [NAME=]CIDR`. The CIDR is checked here, under this flag's name: without --vnet-cidr it also
 * becomes the VNet's address space, and an error found there named --vnet-cidr, a flag the user never gave.
 */
function nodeSubnet(text: string | undefined): { name: string; cidr: string } | undefined {
  if (text === undefined) return undefined;
  const eq = text.indexOf('=');
  if (eq < 0) return { name: DEFAULTS.vnet.subnetName, cidr: cidrFlag(text, '--node-subnet') };
  const name = text.slice(0, eq).trim();
  if (name === '') {
    throw new PodnetError('InvalidFlag', `--node-subnet "${text}" has no subnet name before "="`, {
      field: '--node-subnet',
      hint: 'write --node-subnet NAME=CIDR, e.g. --node-subnet nodes=10.224.0.0/16',
    });
  }
  return { name, cidr: cidrFlag(text.slice(eq + 1).trim(), '--node-subnet') };
}

function cidrFlag(text: string, flag: string): string {
  parseCidr(text, flag);
  return text;
}

/**
 * `--vnet-subnet-id` as az aks create takes it: the subnet's and VNet's names. An id carries no prefix, so the
 * subnet's CIDR must come with `--node-subnet` (a name given there must be the id's).
 */
function subnetOfId(
  id: string | undefined,
  subnet: { name: string; cidr: string } | undefined,
  named: boolean,
): { vnet?: string; subnet?: { name: string; cidr: string } } {
  if (id === undefined) return subnet ? { subnet } : {};
  const parts = subnetIdParts(id.trim());
  if (!parts)
    throw new PodnetError('InvalidFlag', `--vnet-subnet-id "${truncate(id)}" is not a subnet resource id`, {
      field: '--vnet-subnet-id',
      hint: 'a subnet id reads /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/VNET/subnets/SUBNET',
    });
  if (!subnet)
    throw new PodnetError(
      'AksVnetMissing',
      `--vnet-subnet-id names subnet ${parts.subnet} of VNet ${parts.vnet}, but not its prefix`,
      {
        field: '--node-subnet',
        hint: `give its prefix too: --node-subnet ${parts.subnet}=CIDR (az network vnet subnet show --vnet-name ${parts.vnet} -n ${parts.subnet} --query addressPrefix)`,
      },
    );
  if (named && subnet.name !== parts.subnet)
    throw new PodnetError(
      'InvalidFlag',
      `--node-subnet names ${subnet.name}, --vnet-subnet-id ${parts.subnet}`,
      {
        field: '--node-subnet',
        hint: `give the prefix alone (--node-subnet CIDR) or under the id's name (--node-subnet ${parts.subnet}=CIDR)`,
      },
    );
  return { vnet: parts.vnet, subnet: { name: parts.subnet, cidr: subnet.cidr } };
}

/** Builds the profile of a one-pool cluster from the quick-plan flags (AKS defaults for the rest). */
export function profileFromFlags(flags: PlanFlags): ClusterProfile {
  const byId = subnetOfId(
    flags.vnetSubnetId,
    nodeSubnet(flags.nodeSubnet),
    flags.nodeSubnet?.includes('=') ?? false,
  );
  const subnet = byId.subnet;
  const d = DEFAULTS.vnet;
  const vnetCidrs = flags.vnetCidr && flags.vnetCidr.length > 0 ? flags.vnetCidr : undefined;
  // Without --vnet-cidr the VNet is AKS's managed one, or exactly the node subnet when only that is given.
  const addressSpaces = vnetCidrs ?? (subnet ? [subnet.cidr] : [d.addressSpace]);
  const subnets = [subnet ?? { name: d.subnetName, cidr: vnetCidrs ? vnetCidrs[0] : d.subnetCidr }];
  ignoredAzFlags(flags);
  const plugin = flags.networkPlugin?.toLowerCase();
  const mode = flags.networkPluginMode?.toLowerCase();
  // As az aks create: no --network-plugin is overlay; azure without --network-plugin-mode is node-subnet.
  if (plugin !== undefined && (plugin !== 'azure' || mode !== 'overlay')) {
    throw new PodnetError(
      'AksNotOverlay',
      `--network-plugin ${flags.networkPlugin}${mode === undefined ? '' : ` --network-plugin-mode ${flags.networkPluginMode}`} is not Azure CNI Overlay`,
      {
        field: plugin === 'azure' ? '--network-plugin-mode' : '--network-plugin',
        hint: 'podnet plans Azure CNI Overlay: --network-plugin azure --network-plugin-mode overlay',
      },
    );
  }
  const network: Record<string, unknown> = {};
  if (mode !== undefined) network.networkPluginMode = flags.networkPluginMode;
  const podCidrs = flags.podCidr ?? flags.podCidrs;
  const serviceCidrs = flags.serviceCidr ?? flags.serviceCidrs;
  if (podCidrs !== undefined) network.podCidrs = podCidrs;
  if (serviceCidrs !== undefined) network.serviceCidrs = serviceCidrs;
  if (flags.outboundType !== undefined) network.outboundType = flags.outboundType;
  if (flags.dnsServiceIp !== undefined) network.dnsServiceIP = flags.dnsServiceIp;
  if (flags.ipFamilies !== undefined) network.ipFamilies = flags.ipFamilies;
  // Windows pool names have at most 6 characters.
  const pool: Record<string, unknown> = {
    name: flags.nodepoolName ?? (flags.osType?.toLowerCase() === 'windows' ? 'npwin' : DEFAULTS.pool.name),
  };
  if (flags.osSku !== undefined) pool.osSKU = flags.osSku;
  const count = flagInt(flags.nodeCount, '--node-count');
  const maxPods = flagInt(flags.maxPods, '--max-pods');
  if (count !== undefined) pool.count = count;
  if (maxPods !== undefined) pool.maxPods = maxPods;
  if (flags.maxSurge !== undefined) pool.upgradeSettings = { maxSurge: flags.maxSurge };
  if (flags.osType !== undefined) pool.osType = flags.osType;
  const vmSize = flags.vmSize ?? flags.nodeVmSize;
  if (vmSize !== undefined) pool.vmSize = vmSize;
  const data = {
    vnet: { name: byId.vnet ?? d.name, addressSpaces, subnets },
    connectedNetworks:
      flags.connectedCidr && flags.connectedCidr.length > 0
        ? [{ name: 'connected', kind: 'peering', cidrs: flags.connectedCidr }]
        : [],
    networkProfile: network,
    agentPoolProfiles: [pool],
  };
  try {
    return profileFromObject(data);
  } catch (e) {
    if (!(e instanceof PodnetError) || e.field === undefined) throw e;
    const flag = flagForField(e.field);
    return rethrowForFlag(e, flag);
  }
}

function rethrowForFlag(e: PodnetError, flag: string): never {
  throw new PodnetError(e.code === 'InvalidProfile' ? 'InvalidFlag' : e.code, e.message, {
    field: flag,
    hint: e.hint,
    details: e.details,
    cause: e,
  });
}
