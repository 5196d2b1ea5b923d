/**
 * The agent's reconcile is a loop over dataplane parts. A part computes what it wants in the kernel from the
 * reconcile's snapshot (pure, `desired.ts`), makes the kernel match through its edge of `NodeDataplane`
 * (level-based), and says what that took. Parts touch disjoint kernel state, so the agent runs them side by
 * side. To add one (cluster DNS, say): write its pure desired function and its kernel edge, then add it to
 * `nodeDataplaneParts`. New nftables rules on the node (policy, services) are a section of the node table
 * instead (`dataplane/ruleset.ts`), because the whole table is one transaction.
 */
import type { NodeDataplane } from '../dataplane/node-dataplane.js';
import type { EnsureOutcome } from '../dataplane/node-ruleset.js';
import { asPodnetError } from '../errors/index.js';
import type { PeerRoute } from '../routing/routes.js';
import { type NodeSnapshot, desiredNodeRoutes, desiredNodeTable } from './desired.js';

/** What one part did in one reconcile. */
export interface PartOutcome {
  /**
   * `unchanged`: the kernel already matched; `applied`: what the part wants changed (or this process had not
   * written it yet) and was written; `repaired`: the kernel had drifted from what the part last wrote and was
   * put back, counted in `podnet_reconcile_drift_total{kind="<part name>"}`.
   */
  change: EnsureOutcome;
  /** Counts a part reports (routes: added, replaced, removed, and held: podnet's peer routes now in place). */
  counts?: Record<string, number>;
}

/** One part in one reconcile: what it did, or why it failed. */
export type PartReport = PartOutcome | { error: { code: string; message: string } };

export interface DataplanePart<Desired = unknown> {
  /** Stable: the key in the reconcile report and the drift metric's `kind`. */
  readonly name: string;
  /** Pure: what the part wants in the kernel; may throw a PodnetError for input it cannot render. */
  desired(snapshot: NodeSnapshot): Desired;
  /** Makes the kernel match `desired`, level-based (reads the kernel first, writes only where it differs). */
  ensure(desired: Desired): Promise<PartOutcome>;
}

/** IPv4 forwarding on: the node routes every pod packet. Turned off again after the first ensure is drift. */
function forwardingPart(dp: NodeDataplane): DataplanePart<void> {
  let ensured = false;
  return {
    name: 'forwarding',
    desired: () => undefined,
    async ensure() {
      const turnedOn = await dp.ensureForwarding();
      const change = !turnedOn ? 'unchanged' : ensured ? 'repaired' : 'applied';
      ensured = true;
      return { change };
    },
  };
}

/** The node's nftables table (SNAT, anti-spoofing): `ruleset` is the name metrics and reports have used. */
function rulesetPart(dp: NodeDataplane): DataplanePart<ReturnType<typeof desiredNodeTable>> {
  // What was last written: the next desired table keeps its service endpoints in their slots.
  let written: ReturnType<typeof desiredNodeTable> | undefined;
  return {
    name: 'ruleset',
    desired: (s) => desiredNodeTable(s, written),
    async ensure(table) {
      const change = await dp.ensureRuleset(table);
      written = table;
      const w = change === 'unchanged' ? null : dp.lastRulesetWrite();
      // An edit says how many set elements it touched; a replace rewrote the table.
      return {
        change,
        ...(w
          ? { counts: { elements: w.elements, objects: w.objects, replaced: w.mode === 'replace' ? 1 : 0 } }
          : {}),
      };
    },
  };
}

function sameRoutes(a: readonly PeerRoute[], b: readonly PeerRoute[]): boolean {
  return a.length === b.length && a.every((r, i) => r.dst === b[i].dst && r.via === b[i].via);
}

/**
 * Direct routes to peers' blocks. A change while the wanted routes are the ones last written means someone
 * changed podnet's routes behind it: drift.
 */
function routesPart(dp: NodeDataplane): DataplanePart<PeerRoute[]> {
  let written: PeerRoute[] | null = null;
  return {
    name: 'routes',
    desired: desiredNodeRoutes,
    async ensure(routes) {
      const r = await dp.reconcileRoutes(routes);
      const changed = r.added + r.replaced + r.removed > 0;
      const drifted = written !== null && sameRoutes(written, routes);
      written = routes;
      return {
        change: !changed ? 'unchanged' : drifted ? 'repaired' : 'applied',
        counts: { added: r.added, replaced: r.replaced, removed: r.removed, held: routes.length },
      };
    },
  };
}

/** The parts one agent reconciles, in report order; each keeps what it last wrote, so one list per agent. */
export function nodeDataplaneParts(dp: NodeDataplane): DataplanePart[] {
  return [forwardingPart(dp), rulesetPart(dp), routesPart(dp)];
}

/** What a run of the parts did: each part's report by name, and the first failure in list order. */
export interface PartsRun {
  parts: Record<string, PartReport>;
  error?: { code: string; message: string; part: string };
}

/**
 * Runs every part against one snapshot. Parts touch different kernel state, so they run side by side; all of
 * them are tried even when one fails (its desired state or its kernel edge), so one broken part does not
 * hold the others back.
 */
export async function runParts(parts: readonly DataplanePart[], snapshot: NodeSnapshot): Promise<PartsRun> {
  const settled = await Promise.allSettled(parts.map(async (p) => p.ensure(p.desired(snapshot))));
  const run: PartsRun = { parts: {} };
  for (const [i, r] of settled.entries()) {
    const part = parts[i].name;
    if (r.status === 'fulfilled') {
      run.parts[part] = r.value;
      continue;
    }
    const { code, message } = asPodnetError(r.reason);
    run.parts[part] = { error: { code, message } };
    run.error ??= { code, message, part };
  }
  return run;
}
