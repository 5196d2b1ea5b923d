/**
 * An nftables table of podnet's composed of sections. A section is one concern's sets, chains and rules (SNAT,
 * anti-spoofing; later policy and services), rendered purely from its own input; the table is their
 * concatenation, applied as one `nft -f` transaction (`replaceTableScript`), so packets never see half of it.
 *
 * Every name a section declares begins with the section's name and `_`, so sections cannot collide in the
 * table's one namespace, and a listing shows which section a chain belongs to.
 */

/** An nftables table: family and name. */
export interface NftTableId {
  family: 'inet' | 'ip' | 'ip6';
  name: string;
}

export interface NftSet {
  name: string;
  /** A key type (`ipv4_addr`) or a concatenation of them (`ipv4_addr . inet_proto . inet_service`). */
  type: string;
  /** A verdict map: each element is `KEY : VERDICT` (`10.0.0.10 . udp . 53 : goto svc_s_x`). */
  verdictMap?: boolean;
  /** Interval sets hold CIDRs and ranges; their elements must not overlap. */
  interval: boolean;
  /**
   * A set the packet path fills (`update @set { ip saddr }`), whose elements expire after this many seconds:
   * session affinity. Its elements are the kernel's, never rendered nor compared.
   */
  dynamicTimeoutSeconds?: number;
  elements: readonly string[];
}

/**
 * Where a base chain hooks in. Chains on the same hook run in priority order (lower first), whatever the
 * order of the text, so a section's place in the packet path is its hook and priority alone.
 */
export interface NftHook {
  type: 'filter' | 'nat';
  hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  /** A named priority (`raw`, `dstnat`, `filter`, `srcnat`) or a number. */
  priority: string;
}

export interface NftChain {
  name: string;
  /** Unset for a regular chain, reached only by jumps from another chain. */
  base?: NftHook;
  rules: readonly string[];
}

export interface TableSection {
  name: string;
  sets: readonly NftSet[];
  chains: readonly NftChain[];
}

function renderSet(s: NftSet): string[] {
  return [
    `\t${s.verdictMap ? 'map' : 'set'} ${s.name} {`,
    `\t\ttype ${s.type}${s.verdictMap ? ' : verdict' : ''}`,
    ...(s.interval ? ['\t\tflags interval'] : []),
    ...(s.dynamicTimeoutSeconds !== undefined
      ? ['\t\tflags dynamic,timeout', `\t\ttimeout ${s.dynamicTimeoutSeconds}s`]
      : []),
    ...(s.elements.length > 0 ? [`\t\telements = { ${s.elements.join(', ')} }`] : []),
    '\t}',
  ];
}

function renderChain(c: NftChain): string[] {
  const head = c.base
    ? [`\t\ttype ${c.base.type} hook ${c.base.hook} priority ${c.base.priority}; policy accept;`]
    : [];
  return [`\tchain ${c.name} {`, ...head, ...c.rules.map((r) => `\t\t${r}`), '\t}'];
}

/**
 * The table's text: each section's sets then chains, sections in the order given (a rule may only name sets
 * declared above it, so a section may use its own sets and those of sections before it).
 * A name outside its section's prefix, or declared twice, is a bug in a section and throws.
 */
export function renderTable(table: NftTableId, sections: readonly TableSection[]): string {
  const seen = new Set<string>();
  for (const s of sections) {
    for (const { name } of [...s.sets, ...s.chains]) {
      if (!name.startsWith(`${s.name}_`) || seen.has(name)) {
        throw new Error(
          `table section ${s.name}: ${name} is outside its prefix "${s.name}_" or declared twice`,
        );
      }
      seen.add(name);
    }
  }
  const body = sections.flatMap((s) => [...s.sets.flatMap(renderSet), ...s.chains.flatMap(renderChain)]);
  return `${[`table ${table.family} ${table.name} {`, ...body, '}'].join('\n')}\n`;
}

/**
 * One transaction that replaces the table atomically: declare (so the delete cannot fail when it is missing),
 * delete, recreate. Packets see either the old table or the new one, never none.
 */
export function replaceTableScript(table: NftTableId, tableText: string): string {
  const t = `${table.family} ${table.name}`;
  return `table ${t}\ndelete table ${t}\n${tableText}`;
}

/**
 * A table listing with its counters blanked and the elements of dynamic sets (session affinity, filled by
 * packets) left out, so traffic is not mistaken for drift.
 */
export function normalizeListing(listing: string): string {
  return listing
    .replace(/counter packets \d+ bytes \d+/g, 'counter')
    .replace(/(flags dynamic,timeout\n(?:\t+timeout [^\n]*\n)?)\t+elements = \{[^}]*\}\n/g, '$1');
}
