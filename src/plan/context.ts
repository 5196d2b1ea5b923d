/**
 * The profile's addresses parsed once, each with the profile path it came from, so every rule can name the
 * exact field. A profile built in code may hold bad text (the loader never lets it through); such values become
 * `InvalidCidr`/`InvalidIpAddress` findings and are left out of the rules rather than throwing.
 */
import { type Cidr, type IpAddress, parseCidr, parseIp } from '../addr/index.js';
import { type ErrorCode, PodnetError } from '../errors/index.js';
import type { ClusterProfile } from '../profile/types.js';

export interface Finding {
  code: ErrorCode;
  field: string;
  message: string;
}

export interface Located {
  cidr: Cidr;
  text: string;
  field: string;
}

export interface PlanContext {
  profile: ClusterProfile;
  errors: Finding[];
  warnings: Finding[];
  pods: Located[];
  services: Located[];
  dns?: IpAddress;
  vnet: Located[];
  subnets: (Located & { name: string; index: number })[];
  connected: (Located & { name: string })[];
  nonMasquerade: Located[];
}

export function podCidrField(profile: ClusterProfile, i: number): string {
  return profile.network.podCidrs.length === 1 ? 'networkProfile.podCidr' : `networkProfile.podCidrs[${i}]`;
}

export function serviceCidrField(profile: ClusterProfile, i: number): string {
  return profile.network.serviceCidrs.length === 1
    ? 'networkProfile.serviceCidr'
    : `networkProfile.serviceCidrs[${i}]`;
}

export const DNS_FIELD = 'networkProfile.dnsServiceIP';

export function poolField(i: number, key: string): string {
  return `agentPoolProfiles[${i}].${key}`;
}

export function buildContext(profile: ClusterProfile): PlanContext {
  const errors: Finding[] = [];
  const tryCidr = (text: string, field: string): Located | undefined => {
    try {
      return { cidr: parseCidr(text, field), text, field };
    } catch (e) {
      errors.push(asFinding(e, field));
      return undefined;
    }
  };
  const keep = <T>(v: T | undefined): v is T => v !== undefined;
  const n = profile.network;
  let dns: IpAddress | undefined;
  try {
    dns = parseIp(n.dnsServiceIp, DNS_FIELD);
  } catch (e) {
    errors.push(asFinding(e, DNS_FIELD));
  }
  return {
    profile,
    errors,
    warnings: [],
    pods: n.podCidrs.map((t, i) => tryCidr(t, podCidrField(profile, i))).filter(keep),
    services: n.serviceCidrs.map((t, i) => tryCidr(t, serviceCidrField(profile, i))).filter(keep),
    dns,
    vnet: profile.vnet.addressSpaces.map((t, i) => tryCidr(t, `vnet.addressSpaces[${i}]`)).filter(keep),
    subnets: profile.vnet.subnets
      .map((s, i) => {
        const l = tryCidr(s.cidr, `vnet.subnets[${i}].cidr`);
        return l && { ...l, name: s.name, index: i };
      })
      .filter(keep),
    connected: profile.connectedNetworks.flatMap((c, i) =>
      c.cidrs
        .map((t, j) => {
          const l = tryCidr(t, `connectedNetworks[${i}].cidrs[${j}]`);
          return l && { ...l, name: c.name };
        })
        .filter(keep),
    ),
    nonMasquerade: n.nonMasqueradeCidrs
      .map((t, i) => tryCidr(t, `networkProfile.nonMasqueradeCidrs[${i}]`))
      .filter(keep),
  };
}

function asFinding(e: unknown, field: string): Finding {
  if (e instanceof PodnetError) return { code: e.code, field: e.field ?? field, message: e.message };
  return { code: 'InvalidCidr', field, message: String(e) };
}
