/**
 * One NSG's verdict on one packet, as Azure evaluates it (network-security-groups-overview.md,
 * network-security-group-how-it-works.md): the rules of the packet's direction by priority, lowest number first,
 * and the first rule that matches decides; the default rules close every list. Service tags expand per the
 * VNet (tags.ts). Platform traffic (168.63.129.16, 169.254.169.254) is not filtered unless a rule names the
 * platform's own tags. Which NSGs a packet crosses, and statefulness, are the path's business (path.ts).
 */
import { containsIp, parseCidr, parseIp } from '../addr/index.js';
import type { Cidr, IpAddress } from '../addr/index.js';
import { PLATFORM_ADDRESSES, PLATFORM_TAGS, tagCidrs } from './tags.js';
import type { Nsg, NsgAddress, NsgDirection, NsgPacket, NsgRule, TagContext } from './types.js';

export interface NsgVerdict {
  access: 'Allow' | 'Deny';
  /** The deciding rule's name (a default rule by its Azure name), or null for unfiltered platform traffic. */
  rule: string | null;
  priority: number | null;
  default: boolean;
}

/** An NSG prefix as a CIDR: a single address is its own /32 (or /128 for `family` 6). */
export function prefixCidr(prefix: string, family: 4 | 6): Cidr {
  return prefix.includes('/') ? parseCidr(prefix) : parseCidr(`${prefix}/${family === 4 ? 32 : 128}`);
}

/** A prefix of the other family never matches (a bare address is a host prefix of its own family). */
function inPrefix(prefix: string, ip: IpAddress): boolean {
  const family = prefix.includes(':') ? 6 : 4;
  return family === ip.family && containsIp(prefixCidr(prefix, family), ip);
}

function addressMatches(a: NsgAddress, ip: IpAddress, ctx: TagContext): boolean {
  if ('any' in a) return true;
  if ('tag' in a) {
    if (a.tag === 'Internet') return !tagCidrs('VirtualNetwork', ctx).some((p) => inPrefix(p, ip));
    return tagCidrs(a.tag, ctx).some((p) => inPrefix(p, ip));
  }
  return a.prefixes.some((p) => inPrefix(p, ip));
}

function portMatches(ranges: [number, number][], port: number | undefined): boolean {
  if (ranges.length === 0) return true;
  return port !== undefined && ranges.some(([lo, hi]) => port >= lo && port <= hi);
}

export function ruleMatches(r: NsgRule, p: NsgPacket, ctx: TagContext): boolean {
  const proto =
    r.protocol === '*' ||
    (r.protocol === 'Tcp' && p.protocol === 'TCP') ||
    (r.protocol === 'Udp' && p.protocol === 'UDP') ||
    (r.protocol === 'Icmp' && p.protocol === 'ICMP');
  if (!proto) return false;
  // ICMP carries no ports: only a rule that names none matches it.
  const hasPorts = p.protocol === 'TCP' || p.protocol === 'UDP' || p.protocol === 'SCTP';
  if (!hasPorts && (r.sourcePorts.length > 0 || r.destinationPorts.length > 0)) return false;
  return (
    portMatches(r.sourcePorts, p.srcPort) &&
    portMatches(r.destinationPorts, p.dstPort) &&
    addressMatches(r.source, parseIp(p.src), ctx) &&
    addressMatches(r.destination, parseIp(p.dst), ctx)
  );
}

const byPriority = (a: NsgRule, b: NsgRule) => a.priority - b.priority;

export function evaluateNsg(nsg: Nsg, direction: NsgDirection, p: NsgPacket, ctx: TagContext): NsgVerdict {
  const rules = nsg.rules.filter((r) => r.direction === direction).sort(byPriority);
  const peer = direction === 'Outbound' ? p.dst : p.src;
  if (PLATFORM_ADDRESSES.includes(peer)) {
    // Not subject to NSGs, unless a rule names the platform tags to deny it.
    const named = rules.find((r) => {
      const side = direction === 'Outbound' ? r.destination : r.source;
      return 'tag' in side && PLATFORM_TAGS.includes(side.tag) && ruleMatches(r, p, ctx);
    });
    return named
      ? { access: named.access, rule: named.name, priority: named.priority, default: false }
      : { access: 'Allow', rule: null, priority: null, default: false };
  }
  const hit = rules.find((r) => ruleMatches(r, p, ctx));
  // The defaults end every list with a deny-all, so there is always a hit; this guards a list built by hand.
  if (!hit) return { access: 'Deny', rule: null, priority: null, default: true };
  return { access: hit.access, rule: hit.name, priority: hit.priority, default: hit.default };
}
