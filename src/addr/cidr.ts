/**
 * CIDR prefixes: parse, canonical form, contains, overlaps, size, fixed-size blocks, classification.
 * Pure; a CIDR is a family, a network address (host bits zero) and a prefix length.
 */
import { PodnetError } from '../errors/index.js';
import { BITS, type Family, type IpAddress, formatIp, parseIp, truncate, typeName } from './ip.js';

export interface Cidr {
  readonly family: Family;
  /** Network address as a number, host bits always zero. */
  readonly network: bigint;
  readonly prefix: number;
}

/** The per-node block size of the overlay: a /24 per node for IPv4, a /120 for IPv6 (both 256 addresses). */
export const BLOCK_PREFIX: Record<Family, number> = { 4: 24, 6: 120 };

function mask(family: Family, prefix: number): bigint {
  const bits = BITS[family];
  return ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}

export function cidrOf(family: Family, network: bigint, prefix: number): Cidr {
  return { family, network: network & mask(family, prefix), prefix };
}

/**
 * Parses `a.b.c.d/n` or `x::/n`. A CIDR whose host bits are set is an error naming the aligned form,
 * because silently truncating `10.244.1.0/16` hides a typo that changes the plan.
 */
export function parseCidr(text: unknown, field?: string): Cidr {
  if (typeof text !== 'string') {
    throw new PodnetError('InvalidCidr', `expected a CIDR as a string, got ${typeName(text)}`, {
      field,
      hint: 'write a CIDR in quotes, e.g. "10.244.0.0/16"',
    });
  }
  const t = text.trim();
  const slash = t.indexOf('/');
  if (slash < 0) {
    throw new PodnetError('InvalidCidr', `"${truncate(text)}" is not a CIDR: the "/prefix" part is missing`, {
      field,
      hint: 'add the prefix length, e.g. "10.244.0.0/16"',
    });
  }
  let ip: IpAddress;
  try {
    ip = parseIp(t.slice(0, slash), field);
  } catch (e) {
    const inner = e instanceof PodnetError ? e.message : String(e);
    throw new PodnetError('InvalidCidr', `"${truncate(text)}" is not a CIDR: ${inner}`, {
      field,
      hint: 'write a CIDR as address/prefix, e.g. "10.244.0.0/16" or "fd12:3456:789a::/64"',
    });
  }
  const p = t.slice(slash + 1);
  const bits = BITS[ip.family];
  if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > bits) {
    throw new PodnetError(
      'InvalidCidr',
      `"${truncate(text)}" is not a CIDR: prefix length "${truncate(p, 8)}" must be a whole number from 0 to ${bits}`,
      { field, hint: `use a prefix length between 0 and ${bits}` },
    );
  }
  const prefix = Number(p);
  const c = cidrOf(ip.family, ip.value, prefix);
  if (c.network !== ip.value) {
    const aligned = formatCidr(c);
    throw new PodnetError(
      'CidrHostBitsSet',
      `"${truncate(text)}" has host bits set; the network is ${aligned}`,
      {
        field,
        hint: `write "${aligned}" (or a longer prefix if you meant a smaller range)`,
        details: { aligned },
      },
    );
  }
  return c;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp({ family: c.family, value: c.network })}/${c.prefix}`;
}

/** Number of addresses in the CIDR. */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(BITS[c.family] - c.prefix);
}

export function firstIp(c: Cidr): IpAddress {
  return { family: c.family, value: c.network };
}

/** The last address (IPv4: the broadcast address). */
export function lastIp(c: Cidr): IpAddress {
  return { family: c.family, value: c.network + cidrSize(c) - 1n };
}

/** The address at `offset` from the network address (0 = network). */
export function ipAt(c: Cidr, offset: bigint | number): IpAddress {
  return { family: c.family, value: c.network + BigInt(offset) };
}

export function containsIp(c: Cidr, ip: IpAddress): boolean {
  return c.family === ip.family && ip.value >= c.network && ip.value < c.network + cidrSize(c);
}

/** True when `outer` contains all of `inner` (a CIDR contains itself). */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && containsIp(outer, firstIp(inner));
}

/**
 * The CIDRs of the list that no other one of it contains (of duplicates, the first), in list order: what an
 * nftables interval set may hold, since it refuses overlapping elements.
 */
export function outermostCidrs(cidrs: readonly Cidr[]): Cidr[] {
  return cidrs.filter(
    (c, i) => !cidrs.some((o, j) => j !== i && containsCidr(o, c) && (o.prefix < c.prefix || j < i)),
  );
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && (containsCidr(a, b) || containsCidr(b, a));
}

export function cidrEquals(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.network === b.network && a.prefix === b.prefix;
}

/** How many blocks of `/blockPrefix` fit in `c` (0 when the CIDR is smaller than one block). */
export function blockCount(c: Cidr, blockPrefix = BLOCK_PREFIX[c.family]): bigint {
  return c.prefix > blockPrefix ? 0n : 1n << BigInt(blockPrefix - c.prefix);
}

/** The `index`-th block of `/blockPrefix` inside `c`. */
export function blockAt(c: Cidr, index: bigint | number, blockPrefix = BLOCK_PREFIX[c.family]): Cidr {
  const i = BigInt(index);
  if (i < 0n || i >= blockCount(c, blockPrefix)) {
    throw new RangeError(`block index ${i} is outside ${formatCidr(c)} (blocks of /${blockPrefix})`);
  }
  const step = 1n << BigInt(BITS[c.family] - blockPrefix);
  return { family: c.family, network: c.network + i * step, prefix: blockPrefix };
}

/** Iterates the blocks of `/blockPrefix` in `c`, lowest first. */
export function* blocks(c: Cidr, blockPrefix = BLOCK_PREFIX[c.family]): Generator<Cidr> {
  const n = blockCount(c, blockPrefix);
  for (let i = 0n; i < n; i++) yield blockAt(c, i, blockPrefix);
}

export type AddressClass = 'rfc1918' | 'rfc6598' | 'ula' | 'public' | 'special';

const RFC1918 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((s) => parseCidr(s));
const RFC6598 = parseCidr('100.64.0.0/10');
const ULA = parseCidr('fc00::/7');
/** Ranges that are neither private nor public: loopback, link-local, multicast, documentation, reserved. */
const SPECIAL = [
  '0.0.0.0/8',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fe80::/10',
  'ff00::/8',
  '2001:db8::/32',
].map((s) => parseCidr(s));

/**
 * Classifies a CIDR: private (RFC 1918 / RFC 6598 / IPv6 ULA) only when it lies wholly inside such a range;
 * `special` when it touches loopback, link-local, multicast or documentation space; otherwise `public`.
 */
export function classify(c: Cidr): AddressClass {
  if (RFC1918.some((r) => containsCidr(r, c))) return 'rfc1918';
  if (containsCidr(RFC6598, c)) return 'rfc6598';
  if (containsCidr(ULA, c)) return 'ula';
  if (SPECIAL.some((r) => overlaps(r, c))) return 'special';
  return 'public';
}

/** Ranges AKS reserves for its own use; pod, service and VNet ranges must not overlap them. */
export const AKS_RESERVED_RANGES: readonly { cidr: Cidr; text: string; why: string }[] = [
  { text: '169.254.0.0/16', why: 'link-local (IMDS, the pod gateway 169.254.1.1)' },
  { text: '172.30.0.0/16', why: 'reserved by AKS' },
  { text: '172.31.0.0/16', why: 'reserved by AKS' },
  { text: '192.0.2.0/24', why: 'reserved by AKS (documentation range)' },
].map((r) => ({ ...r, cidr: parseCidr(r.text) }));

/** Parses a list given as an array or a comma-separated string, each item a CIDR. */
export function parseCidrList(value: unknown, field: string): Cidr[] {
  const items =
    typeof value === 'string'
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : value;
  if (!Array.isArray(items)) {
    throw new PodnetError('InvalidCidr', `expected a list of CIDRs, got ${typeName(value)}`, {
      field,
      hint: 'give a list such as ["10.0.0.0/16"]',
    });
  }
  return items.map((s, i) => parseCidr(s, `${field}[${i}]`));
}
