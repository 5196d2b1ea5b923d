/**
 * IPv4 and IPv6 addresses as plain values: a family and a bigint. Pure; no I/O.
 *
 * Parsing is strict (no leading zeros in IPv4 octets, which some libc parsers read as octal; no zone ids;
 * at most one `::`), and every failure is a PodnetError with the field that held the bad text.
 */
import { PodnetError } from '../errors/index.js';

export type Family = 4 | 6;

export interface IpAddress {
  readonly family: Family;
  readonly value: bigint;
}

export const BITS: Record<Family, number> = { 4: 32, 6: 128 };

const V4_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function invalid(text: string, field: string | undefined, why: string): PodnetError {
  return new PodnetError('InvalidIpAddress', `"${truncate(text)}" is not a valid IP address: ${why}`, {
    field,
    hint: 'write an IPv4 address as four decimal octets (10.0.0.10) or an IPv6 address in RFC 5952 form (fd00::10)',
  });
}

export function truncate(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function parseV4(text: string): bigint | string {
  const parts = text.split('.');
  if (parts.length !== 4) return 'an IPv4 address has four dot-separated octets';
  let v = 0n;
  for (const p of parts) {
    if (!V4_OCTET.test(p)) return `octet "${truncate(p, 8)}" is not a decimal number without leading zeros`;
    const n = Number(p);
    if (n > 255) return `octet ${n} is larger than 255`;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(text: string): bigint | string {
  if (text.includes('%')) return 'zone ids (%eth0) are not allowed here';
  const halves = text.split('::');
  if (halves.length > 2) return '"::" may appear only once';
  const parseGroups = (s: string): number[] | string => {
    if (s === '') return [];
    const groups: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const g = items[i];
      if (i === items.length - 1 && g.includes('.')) {
        const v4 = parseV4(g);
        if (typeof v4 === 'string') return `embedded IPv4 part: ${v4}`;
        groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!HEXTET.test(g)) return `group "${truncate(g, 8)}" is not 1-4 hex digits`;
        groups.push(Number.parseInt(g, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]);
  if (typeof head === 'string') return head;
  const tail = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (typeof tail === 'string') return tail;
  const count = head.length + tail.length;
  if (halves.length === 2 ? count > 7 : count !== 8) return 'an IPv6 address has eight 16-bit groups';
  const groups = [...head, ...new Array(8 - count).fill(0), ...tail];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

/** Parses an IPv4 or IPv6 address; `field` names where the text came from, for the error. */
export function parseIp(text: unknown, field?: string): IpAddress {
  if (typeof text !== 'string') {
    throw new PodnetError('InvalidIpAddress', `expected an IP address as a string, got ${typeName(text)}`, {
      field,
      hint: 'write the address in quotes, e.g. "10.0.0.10"',
    });
  }
  const t = text.trim();
  if (t === '') throw invalid(text, field, 'it is empty');
  const r = t.includes(':') ? parseV6(t) : parseV4(t);
  if (typeof r === 'string') throw invalid(text, field, r);
  return { family: t.includes(':') ? 6 : 4, value: r };
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${truncate(JSON.stringify(v) ?? String(v), 32)}`;
}

/**
 * Canonical text: dotted quad, or RFC 5952 (lower case, longest zero run of 2+ groups as "::", first run on a
 * tie, IPv4-mapped addresses as ::ffff:a.b.c.d).
 */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  if (ip.value >> 32n === 0xffffn) return `::ffff:${formatIp({ family: 4, value: ip.value & 0xffffffffn })}`;
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function ipEquals(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.value === b.value;
}

/** The address `n` places after `ip` (n may be negative); no wrap-around check, callers stay in a CIDR. */
export function ipAdd(ip: IpAddress, n: bigint | number): IpAddress {
  return { family: ip.family, value: ip.value + BigInt(n) };
}

/** IPv4 address as a 32-bit unsigned number, the form hot allocator paths use. */
export function ipv4ToNumber(ip: IpAddress): number {
  return Number(ip.value);
}

export function numberToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
