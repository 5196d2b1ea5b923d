/**
 * An nftables table of podnet's composed of sections. A section is one concern's sets, chains and rules (SNAT,
 * anti-spoofing; later policy and services), rendered purely from its own input; the table is their
 * concatenation, applied as one `nft -f` transaction (`replaceTableScript`), so packets never see half of it.
 *
 * Every name a section declares begins with the section's name and `_`, so sections cannot collide in the
 * table's one namespace, and a listing shows which section a chain belongs to.
 */

/**
 * nft's name for an address family's header (`ip saddr`, `ip6 daddr`, `rt ip6 nexthop`), which is also the
 * family of a table of that family only.
 */
export const NFT_IP = { 4: 'ip', 6: 'ip6' } as const;

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
  /** A data map: each element is `KEY : VALUE` of this type (`0 : 10.244.1.5 . 8080`). */
  data?: string;
  /** `type` (and `data`) are `typeof` expressions: nft names no type for some keys (a numgen slot). */
  typeOf?: boolean;
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
    `\t${s.verdictMap || s.data !== undefined ? 'map' : 'set'} ${s.name} {`,
    `\t\t${s.typeOf ? 'typeof' : 'type'} ${s.type}${s.verdictMap ? ' : verdict' : s.data ? ` : ${s.data}` : ''}`,
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

/** A change of a table as one transaction of small edits instead of a rewrite. */
export interface TableDelta {
  /** The `nft -f` text; empty when nothing changed. */
  script: string;
  /** Set and map elements added or deleted, counting the elements of sets the change creates. */
  elements: number;
  /** Sets and chains created or deleted, and chains whose rules were rewritten. */
  objects: number;
}

const byName = <T extends { name: string }>(xs: readonly T[]) => new Map(xs.map((x) => [x.name, x]));

function sameDefinition(a: NftSet, b: NftSet): boolean {
  return (
    a.type === b.type &&
    a.interval === b.interval &&
    (a.verdictMap ?? false) === (b.verdictMap ?? false) &&
    a.data === b.data &&
    (a.typeOf ?? false) === (b.typeOf ?? false)
  );
}

/**
 * The edits that turn the table rendered from `before` into the one rendered from `after`, in one transaction
 * (so packets see the old table or the new one): new chains (empty), new sets, element deletes then adds,
 * rewritten rules of changed chains, then deletes of what is gone, each step after what it depends on (a
 * chain is only deleted once no element or rule points at it). Null when a set changed its type or a base
 * chain its hook: then the table is replaced whole (`replaceTableScript`).
 */
export function tableDelta(
  table: NftTableId,
  before: readonly TableSection[],
  after: readonly TableSection[],
): TableDelta | null {
  const t = `${table.family} ${table.name}`;
  const oldSets = byName(before.flatMap((s) => s.sets));
  const newSets = byName(after.flatMap((s) => s.sets));
  const oldChains = byName(before.flatMap((s) => s.chains));
  const newChains = byName(after.flatMap((s) => s.chains));
  for (const [name, s] of newSets) {
    const o = oldSets.get(name);
    if (o && !sameDefinition(o, s)) return null;
  }
  for (const [name, c] of newChains) {
    const o = oldChains.get(name);
    if (o && JSON.stringify(o.base) !== JSON.stringify(c.base)) return null;
  }
  const addedChains = [...newChains.values()].filter((c) => !oldChains.has(c.name));
  const addedSets = [...newSets.values()].filter((s) => !oldSets.has(s.name));
  const goneChains = [...oldChains.values()].filter((c) => !newChains.has(c.name));
  const goneSets = [...oldSets.values()].filter((s) => !newSets.has(s.name));
  const rewritten = [...newChains.values()].filter((c) => {
    const o = oldChains.get(c.name);
    return o && (o.rules.length !== c.rules.length || o.rules.some((r, i) => r !== c.rules[i]));
  });
  const lines: string[] = [];
  let elements = 0;
  const declare = (body: string[]) => {
    if (body.length > 0) lines.push(`table ${t} {`, ...body, '}');
  };
  declare(addedChains.flatMap((c) => renderChain({ ...c, rules: [] })));
  declare(addedSets.flatMap(renderSet));
  for (const s of addedSets) elements += s.elements.length;
  const edits: { set: NftSet; del: string[]; add: string[] }[] = [];
  for (const s of newSets.values()) {
    const o = oldSets.get(s.name);
    if (!o) continue;
    const had = new Set(o.elements);
    const has = new Set(s.elements);
    // A map element is deleted by its key alone; one whose verdict changed is deleted, then added.
    const isMap = s.verdictMap || s.data !== undefined;
    const del = o.elements.filter((e) => !has.has(e)).map((e) => (isMap ? e.split(' : ')[0] : e));
    const add = s.elements.filter((e) => !had.has(e));
    if (del.length + add.length > 0) edits.push({ set: s, del, add });
  }
  for (const e of edits) {
    if (e.del.length > 0) lines.push(`delete element ${t} ${e.set.name} { ${e.del.join(', ')} }`);
    elements += e.del.length;
  }
  for (const e of edits) {
    if (e.add.length > 0) lines.push(`add element ${t} ${e.set.name} { ${e.add.join(', ')} }`);
    elements += e.add.length;
  }
  for (const c of [...rewritten, ...goneChains]) lines.push(`flush chain ${t} ${c.name}`);
  for (const c of [...rewritten, ...addedChains]) {
    for (const r of c.rules) lines.push(`add rule ${t} ${c.name} ${r}`);
  }
  for (const s of goneSets)
    lines.push(`delete ${s.verdictMap || s.data !== undefined ? 'map' : 'set'} ${t} ${s.name}`);
  for (const c of goneChains) lines.push(`delete chain ${t} ${c.name}`);
  return {
    script: lines.length > 0 ? `${lines.join('\n')}\n` : '',
    elements,
    objects: addedChains.length + addedSets.length + goneChains.length + goneSets.length + rewritten.length,
  };
}
