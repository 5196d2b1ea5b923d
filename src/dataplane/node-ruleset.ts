/**
 * Keeps podnet's node table in the kernel equal to the rendered one, level-based: it re-applies only when the
 * rendered text changed (new pod CIDR, new non-masquerade list) or the kernel's table drifted from what was
 * applied (deleted or edited by hand), so a steady node costs one `nft list` per check. The whole table, all
 * its sections, is one `nft -f` transaction.
 */
import { nftApply, nftListTable } from '../kernel/nft.js';
import { normalizeListing, replaceTableScript } from './nft-table.js';
import { NODE_TABLE, type NodeTableInput, renderNodeTable } from './ruleset.js';

/**
 * `unchanged`: the kernel already matched; `applied`: the desired table changed (or was never applied by this
 * process) and was written; `repaired`: the kernel drifted from what was applied and was put back.
 */
export type EnsureOutcome = 'unchanged' | 'applied' | 'repaired';

export class NodeRuleset {
  private applied: { rendered: string; listing: string } | null = null;

  constructor(private readonly opts: { netns?: string } = {}) {}

  /** Makes the kernel's table match `input`; says whether it was already right, newly applied or repaired. */
  async ensure(input: NodeTableInput): Promise<EnsureOutcome> {
    const rendered = renderNodeTable(input);
    const current = await this.list();
    if (this.applied && this.applied.rendered === rendered && current === this.applied.listing)
      return 'unchanged';
    const drifted = this.applied !== null && this.applied.rendered === rendered;
    await nftApply(replaceTableScript(NODE_TABLE, rendered), this.opts);
    this.applied = { rendered, listing: (await this.list()) ?? '' };
    return drifted ? 'repaired' : 'applied';
  }

  private async list(): Promise<string | null> {
    const l = await nftListTable(NODE_TABLE.family, NODE_TABLE.name, this.opts);
    return l === null ? null : normalizeListing(l);
  }
}
