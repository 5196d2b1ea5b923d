/**
 * An NSG in the shape `az network nsg show -o json` prints (the ARM resource with `properties` flattened; the
 * ARM nesting under `properties` is read too), checked with Azure's rules: rule names, priorities 100-4096 and
 * unique per direction, known directions, accesses and protocols, well-formed prefixes, tags and port ranges,
 * one service tag per side. Read-only fields (`etag`, `id`, `provisioningState`, ...) are ignored. Every problem
 * is reported with its field, all at once. A network interface (`az network nic show -o json`) is read by
 * `parseNic`: its name, private addresses and the NSG on it.
 */
import { formatIp, parseCidr, parseIp } from '../addr/index.js';
import { DEFAULT_RULES } from './defaults.js';
import { SERVICE_TAGS } from './tags.js';
import type { Nic, Nsg, NsgAccess, NsgAddress, NsgDirection, NsgProtocol, NsgRule } from './types.js';

export interface NsgProblem {
  field: string;
  message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** ARM puts a resource's settings under `properties`; the CLI prints them flattened. Read either. */
export const armProperties = (o: Obj): Obj => (isObj(o.properties) ? { ...o, ...o.properties } : o);

// Azure: up to 80 characters, starting with a letter, digit or underscore, ending with one (or an underscore).
const RULE_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;
const PROTOCOLS: Record<string, NsgProtocol> = {
  tcp: 'Tcp',
  udp: 'Udp',
  icmp: 'Icmp',
  esp: 'Esp',
  ah: 'Ah',
  '*': '*',
};

function oneOf<T extends string>(v: unknown, values: readonly T[]): T | null {
  return typeof v === 'string' ? (values.find((x) => x.toLowerCase() === v.toLowerCase()) ?? null) : null;
}

/** `sourceAddressPrefix` or `sourceAddressPrefixes` (not both): `*`, one service tag, or prefixes. */
function readAddress(
  r: Obj,
  side: 'source' | 'destination',
  field: string,
  problems: NsgProblem[],
): NsgAddress {
  const one = r[`${side}AddressPrefix`];
  const many = Array.isArray(r[`${side}AddressPrefixes`]) ? (r[`${side}AddressPrefixes`] as unknown[]) : [];
  const f = `${field}.${side}AddressPrefix`;
  if (typeof one === 'string' && one !== '' && many.length > 0) {
    problems.push({ field: f, message: `give ${side}AddressPrefix or ${side}AddressPrefixes, not both` });
  }
  const items = typeof one === 'string' && one !== '' ? [one] : many;
  if (items.length === 0) {
    problems.push({ field: f, message: `${side}AddressPrefix(es) is required ("*" for any)` });
    return { any: true };
  }
  if (items.length === 1 && (items[0] === '*' || String(items[0]).toLowerCase() === 'any'))
    return { any: true };
  const tags = items.filter(
    (i) => typeof i === 'string' && /^[A-Za-z]/.test(i) && !i.includes(':') && !i.includes('.'),
  );
  if (tags.length > 0) {
    const known = tags.map((t) => oneOf(t, SERVICE_TAGS));
    tags.forEach((t, i) => {
      if (!known[i])
        problems.push({
          field: f,
          message: `"${t}" is not a service tag podnet knows (${SERVICE_TAGS.join(', ')})`,
        });
    });
    if (items.length > 1)
      problems.push({
        field: f,
        message: 'a service tag cannot be combined with other prefixes or tags in one rule',
      });
    return known[0] ? { tag: known[0] } : { any: true };
  }
  const prefixes: string[] = [];
  items.forEach((p, i) => {
    try {
      if (typeof p !== 'string') throw new Error('not text');
      if (p.includes('/')) parseCidr(p);
      else parseIp(p);
      prefixes.push(p);
    } catch {
      problems.push({
        field: many.length > 0 ? `${field}.${side}AddressPrefixes[${i}]` : f,
        message: `"${String(p)}" is not an IP address, CIDR, service tag or "*"`,
      });
    }
  });
  return { prefixes };
}

/** `sourcePortRange` or `sourcePortRanges`: `*`, `80`, `1000-2000` (0-65535). */
function readPorts(
  r: Obj,
  side: 'source' | 'destination',
  field: string,
  problems: NsgProblem[],
): [number, number][] {
  const one = r[`${side}PortRange`];
  const many = Array.isArray(r[`${side}PortRanges`]) ? (r[`${side}PortRanges`] as unknown[]) : [];
  const f = `${field}.${side}PortRange`;
  if (typeof one === 'string' && one !== '' && many.length > 0) {
    problems.push({ field: f, message: `give ${side}PortRange or ${side}PortRanges, not both` });
  }
  const items = typeof one === 'string' && one !== '' ? [one] : many.map(String);
  if (items.length === 0) {
    problems.push({ field: f, message: `${side}PortRange(s) is required ("*" for any)` });
    return [];
  }
  if (items.includes('*')) return [];
  const out: [number, number][] = [];
  for (const item of items) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(String(item).trim());
    const [lo, hi] = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [Number.NaN, Number.NaN];
    if (!m || lo > 65535 || hi > 65535 || lo > hi) {
      problems.push({
        field: f,
        message: `"${item}" is not a port or range (0-65535, e.g. 80 or 1000-2000, or "*")`,
      });
    } else out.push([lo, hi]);
  }
  return out;
}

function readRule(raw: unknown, field: string, problems: NsgProblem[]): NsgRule | null {
  if (!isObj(raw)) {
    problems.push({ field, message: 'a security rule must be an object' });
    return null;
  }
  const r = armProperties(raw);
  const name = typeof r.name === 'string' ? r.name : '';
  if (!RULE_NAME.test(name))
    problems.push({
      field: `${field}.name`,
      message: `"${name}" is not a valid rule name (1-80 letters, digits, "_", "." or "-", starting with a letter, digit or "_" and ending with one or "_")`,
    });
  const priority = r.priority;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 100 || priority > 4096) {
    problems.push({
      field: `${field}.priority`,
      message: `priority must be a whole number from 100 to 4096, got ${JSON.stringify(priority)}`,
    });
  }
  const direction = oneOf(r.direction, ['Inbound', 'Outbound'] as const);
  if (!direction)
    problems.push({ field: `${field}.direction`, message: 'direction must be Inbound or Outbound' });
  const access = oneOf(r.access, ['Allow', 'Deny'] as const);
  if (!access) problems.push({ field: `${field}.access`, message: 'access must be Allow or Deny' });
  const protocol = typeof r.protocol === 'string' ? PROTOCOLS[r.protocol.toLowerCase()] : undefined;
  if (!protocol)
    problems.push({ field: `${field}.protocol`, message: 'protocol must be Tcp, Udp, Icmp, Esp, Ah or "*"' });
  const rule: NsgRule = {
    name,
    priority: typeof priority === 'number' ? priority : 0,
    direction: (direction ?? 'Inbound') as NsgDirection,
    access: (access ?? 'Deny') as NsgAccess,
    protocol: protocol ?? '*',
    source: readAddress(r, 'source', field, problems),
    destination: readAddress(r, 'destination', field, problems),
    sourcePorts: readPorts(r, 'source', field, problems),
    destinationPorts: readPorts(r, 'destination', field, problems),
    default: false,
  };
  return rule;
}

/** The last segment after `/<segment>/` of an ARM id: `.../subnets/NAME` -> NAME. */
function idName(id: unknown, segment: string): string | null {
  if (typeof id !== 'string') return null;
  const m = new RegExp(`/${segment}/([^/]+)`, 'i').exec(id);
  return m ? m[1] : null;
}

export function parseNsg(raw: unknown, field = ''): { nsg: Nsg | null; problems: NsgProblem[] } {
  const problems: NsgProblem[] = [];
  const at = (f: string) => (field ? `${field}.${f}` : f);
  if (!isObj(raw))
    return { nsg: null, problems: [{ field: field || '(top level)', message: 'an NSG must be an object' }] };
  const o = armProperties(raw);
  const name = typeof o.name === 'string' && o.name !== '' ? o.name : null;
  if (!name) problems.push({ field: at('name'), message: 'name is required' });
  const rawRules = o.securityRules ?? [];
  if (!Array.isArray(rawRules))
    problems.push({ field: at('securityRules'), message: 'securityRules must be a list' });
  const rules = (Array.isArray(rawRules) ? rawRules : []).flatMap((r, i) => {
    const rule = readRule(r, at(`securityRules[${i}]`), problems);
    return rule ? [rule] : [];
  });
  const seen = new Map<string, number>();
  rules.forEach((r, i) => {
    const k = `${r.direction}/${r.priority}`;
    if (seen.has(k))
      problems.push({
        field: at(`securityRules[${i}].priority`),
        message: `priority ${r.priority} is already used by ${r.direction} rule "${rules[seen.get(k) as number].name}": priorities are unique per direction`,
      });
    else seen.set(k, i);
  });
  const assoc = (key: string, segment: string) =>
    (Array.isArray(o[key]) ? (o[key] as unknown[]) : []).flatMap((x, i) => {
      const n = idName(isObj(x) ? x.id : undefined, segment);
      if (!n)
        problems.push({
          field: at(`${key}[${i}].id`),
          message: `expected an ARM id ending in /${segment}/NAME`,
        });
      return n ? [n] : [];
    });
  const subnets = assoc('subnets', 'subnets');
  const networkInterfaces = assoc('networkInterfaces', 'networkInterfaces');
  if (problems.length > 0 || !name) return { nsg: null, problems };
  return { nsg: { name, rules: [...rules, ...DEFAULT_RULES], subnets, networkInterfaces }, problems };
}

/** A NIC as `az network nic show -o json` prints it: `ipConfigurations[].privateIPAddress`, `networkSecurityGroup.id`. */
export function parseNic(raw: unknown, field = ''): { nic: Nic | null; problems: NsgProblem[] } {
  const problems: NsgProblem[] = [];
  const at = (f: string) => (field ? `${field}.${f}` : f);
  if (!isObj(raw))
    return { nic: null, problems: [{ field: field || '(top level)', message: 'a NIC must be an object' }] };
  const o = armProperties(raw);
  const name = typeof o.name === 'string' && o.name !== '' ? o.name : null;
  if (!name) problems.push({ field: at('name'), message: 'name is required' });
  const configs = o.ipConfigurations ?? [];
  if (!Array.isArray(configs))
    problems.push({ field: at('ipConfigurations'), message: 'ipConfigurations must be a list' });
  const ips: string[] = [];
  (Array.isArray(configs) ? configs : []).forEach((c, i) => {
    const ip = isObj(c) ? armProperties(c).privateIPAddress : undefined;
    if (ip === undefined) return;
    try {
      if (typeof ip !== 'string') throw new Error('not text');
      // Canonical text, so an IPv6 address matches however the NIC spells it.
      ips.push(formatIp(parseIp(ip)));
    } catch {
      problems.push({
        field: at(`ipConfigurations[${i}].privateIPAddress`),
        message: `"${String(ip)}" is not an IP address`,
      });
    }
  });
  let nsg: string | undefined;
  if (o.networkSecurityGroup !== undefined) {
    const id = isObj(o.networkSecurityGroup) ? o.networkSecurityGroup.id : undefined;
    nsg = idName(id, 'networkSecurityGroups') ?? undefined;
    if (!nsg)
      problems.push({
        field: at('networkSecurityGroup.id'),
        message: 'expected an ARM id ending in /networkSecurityGroups/NAME',
      });
  }
  if (problems.length > 0 || !name) return { nic: null, problems };
  return { nic: { name, ips, ...(nsg ? { nsg } : {}) }, problems };
}
