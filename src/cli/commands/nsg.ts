/**
 * `podnet nsg check`: the flows an overlay cluster needs that its subnets' NSGs would block, each with the NSG,
 * the rule that blocks it and the rule to add. The decision is src/nsg/check.ts; `podnet plan --nsg` runs it too.
 */
import type { Command } from 'commander';
import { PodnetError } from '../../errors/index.js';
import { checkNsgs } from '../../nsg/check.js';
import { worldFromFiles } from '../../trace/world.js';
import type { CliContext } from '../main.js';
import { EXIT, OUTPUT_HELP, examples, isData, parseOutputFormat, serialize, table } from '../output.js';

const EXAMPLES = `
Examples:
  podnet nsg check -f cluster.yaml -f nsg.json
  podnet nsg check -f cluster.yaml -f nsgs/ -o json

Checks node subnet to node subnet, node subnet to pod CIDR and pod CIDR to pod CIDR on all ports and protocols,
and DNS from the pods to the DNS service IP, through each node subnet's NSG (outbound at the sender's, inbound
at the receiver's). Exit 0 when nothing needed is blocked, 1 when something is.`;

export function registerNsg(program: Command, ctx: CliContext): void {
  const nsg = program
    .command('nsg')
    .description('Azure network security groups and what the cluster needs of them')
    .addHelpText('after', examples('podnet nsg check -f cluster.yaml -f nsg.json'));
  nsg
    .command('check')
    .description('the flows the overlay needs that the NSGs would block, with the rule to add')
    .option(
      '-f, --filename <path>',
      'the cluster profile and NSGs (az network nsg show -o json): files, directories or - (repeatable)',
      (v, p: string[]) => [...p, v],
      [],
    )
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', EXAMPLES)
    .action((o: { filename: string[]; output: string }) => {
      const format = parseOutputFormat(o.output);
      const { profile, nsgs } = worldFromFiles(o.filename);
      if (!profile) {
        throw new PodnetError('UsageError', 'no cluster profile among the files', {
          field: '--filename',
          hint: 'give the profile too: podnet nsg check -f cluster.yaml -f nsg.json',
        });
      }
      const blocked = checkNsgs(profile, nsgs);
      ctx.exitCode = blocked.length > 0 ? EXIT.problems : EXIT.ok;
      if (isData(format)) {
        ctx.io.out(serialize(format, 'NsgCheck', { nsgs: nsgs.map((n) => n.name), blocked }));
        return;
      }
      if (blocked.length === 0) {
        ctx.io.out(
          `ok: ${nsgs.length} NSG${nsgs.length === 1 ? '' : 's'} let every flow the cluster needs through`,
        );
        return;
      }
      ctx.io.out(
        table(
          ['flow', 'nsg', 'direction', 'blocked by', 'add'],
          blocked.map((b) => [
            b.flow,
            b.nsg,
            b.direction,
            `${b.rule}${b.priority ? ` (${b.priority})` : ''}`,
            `${b.fix.name} ${b.fix.priority}: Allow ${b.fix.protocol} ${b.fix.sourceAddressPrefix} -> ${b.fix.destinationAddressPrefix}:${b.fix.destinationPortRange}`,
          ]),
        ),
      );
    });
}
