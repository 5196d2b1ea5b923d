/**
 * Keeps podnet's node table in the kernel equal to the rendered one, level-based: it re-applies only when the
 * rendered text changed (new pod CIDR, new non-masquerade list) or the kernel's table drifted from what was
 * applied (deleted or edited by hand), so a steady node costs one `nft list` per check.
 */
import { nftApply, nftListTable } from '../kernel/nft.js';
import {
  NODE_TABLE,
  type NodeRulesetInput,
  normalizeListing,
  renderNodeRuleset,
  replaceTableScript,
} from './ruleset.js';

export type RulesetOutcome = 'unchanged' | 'applied' | 'repaired';

export class NodeRuleset {
  private applied: { rendered: string; listing: string } | null = null;

  constructor(private readonly opts: { netns?: string } = {}) {}

  /** Makes the kernel's table match `input`; says whether it was already right, newly applied or repaired. */
  async ensure(input: NodeRulesetInput): Promise<RulesetOutcome> {
    const rendered = renderNodeRuleset(input);
    const current = await this.list();
    if (this.applied && this.applied.rendered === rendered && current === this.applied.listing)
      return 'unchanged';
    const drifted = this.applied !== null && this.applied.rendered === rendered;
    await nftApply(replaceTableScript(rendered), this.opts);
    this.applied = { rendered, listing: (await this.list()) ?? '' };
    return drifted ? 'repaired' : 'applied';
  }

  private async list(): Promise<string | null> {
    const l = await nftListTable(NODE_TABLE.family, NODE_TABLE.name, this.opts);
    return l === null ? null : normalizeListing(l);
  }
}
