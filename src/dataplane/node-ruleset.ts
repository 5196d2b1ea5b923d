/**
 * Keeps podnet's node table in the kernel equal to the rendered one, level-based: a steady node costs one
 * `nft list` per check. A change of what a section wants (a pod admitted by a policy, a new policy) is sent
 * as element and chain edits in one transaction (`tableDelta`), so the kernel's update is as small as the
 * change, not a rewrite of the table; the first write, a set changing type, and a table that drifted from
 * what was applied (deleted or edited by hand) replace the whole table in one `nft -f` transaction.
 */
import { nftApply, nftListTable } from '../kernel/nft.js';
import {
  type TableSection,
  normalizeListing,
  renderTable,
  replaceTableScript,
  tableDelta,
} from './nft-table.js';
import { NODE_TABLE, type NodeTableInput, nodeTableSections } from './ruleset.js';

/**
 * `unchanged`: the kernel already matched; `applied`: the desired table changed (or was never applied by this
 * process) and was written; `repaired`: the kernel drifted from what was applied and was put back.
 */
export type EnsureOutcome = 'unchanged' | 'applied' | 'repaired';

/** How the last write reached the kernel, and how many set elements it touched (edits only). */
export interface RulesetWrite {
  mode: 'edit' | 'replace';
  elements: number;
  objects: number;
}

export class NodeRuleset {
  private applied: { rendered: string; listing: string; sections: TableSection[] } | null = null;
  /** The last write (null before the first). */
  lastWrite: RulesetWrite | null = null;

  constructor(private readonly opts: { netns?: string } = {}) {}

  /** Makes the kernel's table match `input`; says whether it was already right, newly applied or repaired. */
  async ensure(input: NodeTableInput): Promise<EnsureOutcome> {
    const sections = nodeTableSections(input);
    const rendered = renderTable(NODE_TABLE, sections);
    const current = await this.list();
    const inSync = this.applied !== null && current === this.applied.listing;
    if (inSync && this.applied?.rendered === rendered) return 'unchanged';
    const drifted = this.applied !== null && !inSync && this.applied.rendered === rendered;
    const delta = inSync && this.applied ? tableDelta(NODE_TABLE, this.applied.sections, sections) : null;
    if (delta) {
      await nftApply(delta.script, this.opts);
      this.lastWrite = { mode: 'edit', elements: delta.elements, objects: delta.objects };
    } else {
      await nftApply(replaceTableScript(NODE_TABLE, rendered), this.opts);
      this.lastWrite = { mode: 'replace', elements: 0, objects: 0 };
    }
    this.applied = { rendered, listing: (await this.list()) ?? '', sections };
    return drifted ? 'repaired' : 'applied';
  }

  private async list(): Promise<string | null> {
    const l = await nftListTable(NODE_TABLE.family, NODE_TABLE.name, this.opts);
    return l === null ? null : normalizeListing(l);
  }
}
