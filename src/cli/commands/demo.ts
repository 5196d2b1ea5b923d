/**
 * `podnet demo` (what `npm run demo` runs): a three-node lab with two pods per node, the probe check, and the
 * lab left up to play with. A demo lab from an earlier run is replaced.
 */
import type { Command } from 'commander';
import { labCheck, labCheckPassed, labDown, labStatus, labUp } from '../../lab/lab.js';
import { readLab } from '../../lab/state.js';
import type { CliContext } from '../main.js';
import { EXIT } from '../output.js';
import { renderCheck, renderStatus, selfCommand } from './lab.js';

const DEMO = 'demo';

/** Registers the `demo` command(s). */
export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('bring up a three-node lab with pods, probe it, and leave it running')
    .option('--store <kind>', 'cluster store: sqlite or etcd', 'sqlite')
    .action(async (o) => {
      const progress = (m: string) => ctx.io.err(`demo: ${m}`);
      if (readLab(DEMO)) {
        progress('removing the demo lab of an earlier run');
        await labDown(DEMO);
      }
      const started = Date.now();
      await labUp({
        name: DEMO,
        nodes: 3,
        podsPerNode: 2,
        store: o.store === 'etcd' ? 'etcd' : 'sqlite',
        progress,
      });
      const built = Date.now() - started;
      const status = await labStatus([DEMO]);
      progress('probing: pod to pod, pod to the outside (SNAT), the outside to pods (refused), node to pod');
      const result = await labCheck(DEMO);
      const pods = status.clusters[0].nodes.flatMap((n) => n.pods);
      const a = pods[0];
      const b = pods.at(-1) ?? a;
      const me = selfCommand();
      ctx.io.out(
        [
          `Lab "${DEMO}" built in ${(built / 1000).toFixed(1)} s: a VNet namespace routing each node's /24 (the routing domain),`,
          'three nodes on two subnets each running a podnet agent, pods attached through the podnet-cni plugin,',
          'and two hosts outside the cluster (the internet, an on-premises network).',
          '',
          renderStatus(status),
          '',
          renderCheck(result),
          '',
          'Try:',
          `  ${me} lab exec ${a.name} -- ping -c 1 ${b.ip}   # pod to pod across pools, no encapsulation`,
          `  ${me} lab exec ${a.name} -- ip route   # default via 169.254.1.1`,
          `  ${me} lab status -o json`,
          `  ${me} lab scale --pool user --count 2   # a new node leases a new block`,
          `  ${me} lab check`,
          'Tear down:',
          `  ${me} lab down --name ${DEMO}`,
        ].join('\n'),
      );
      ctx.exitCode = labCheckPassed(result) ? EXIT.ok : EXIT.problems;
    });
}
