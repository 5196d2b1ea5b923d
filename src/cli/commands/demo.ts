/**
 * `podnet demo` (what `npm run demo` runs): a three-node lab with two pods per node, the probe check, and the
 * lab left up to play with. A demo lab from an earlier run is replaced; a lab the demo did not make is never
 * touched.
 */
import type { Command } from 'commander';
import { PodnetError } from '../../errors/index.js';
import { defaultLabProfile } from '../../lab/default-profile.js';
import { labCheck, labCheckPassed, labDown, labStatus, labUp } from '../../lab/lab.js';
import type { LabState } from '../../lab/model.js';
import { checkLabName } from '../../lab/names.js';
import { readLab } from '../../lab/state.js';
import type { CliContext } from '../main.js';
import { EXIT, examples } from '../output.js';
import { renderCheck, renderStatus, selfCommand } from './lab.js';

/**
 * What a demo under `name` does with the lab already there: none, one of its own to replace, or one it did not
 * make (a user's `lab up --name demo`), which it refuses to touch.
 */
export function demoStart(name: string, existing: LabState | null): 'fresh' | 'replace' {
  if (!existing) return 'fresh';
  if (existing.madeBy === 'demo') return 'replace';
  throw new PodnetError('LabNotMadeByDemo', `a lab named "${name}" exists, and podnet demo did not make it`, {
    field: '--name',
    hint: `the demo never removes another lab: remove it with podnet lab down --name ${name}, or run podnet demo --name another`,
  });
}

/** Registers the `demo` command(s). */
export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('bring up a three-node lab with pods, probe it, and leave it running')
    .addHelpText(
      'after',
      examples(
        'podnet demo',
        'podnet demo --dual-stack',
        'podnet demo --name demo2 --store etcd',
        'npm run demo',
      ),
    )
    .option('--store <kind>', 'cluster store: sqlite or etcd', 'sqlite')
    .option(
      '--dual-stack',
      'IPv4 and IPv6: subnets with an IPv6 /64, an IPv6 /120 per node, pods with both addresses, every probe in both families',
    )
    .option(
      '--name <name>',
      'the lab to make (a demo lab of that name from an earlier run is replaced)',
      'demo',
    )
    .action(async (o) => {
      const name = checkLabName(o.name);
      const begun = Date.now();
      const progress = (m: string) =>
        ctx.io.err(`demo: ${m} (${((Date.now() - begun) / 1000).toFixed(1)} s)`);
      if (demoStart(name, readLab(name)) === 'replace') {
        progress('removing the demo lab of an earlier run');
        await labDown(name);
      }
      const started = Date.now();
      await labUp({
        name: name,
        ...(o.dualStack ? { profile: defaultLabProfile(name, 0, { dualStack: true }) } : {}),
        nodes: 3,
        podsPerNode: 2,
        store: o.store === 'etcd' ? 'etcd' : 'sqlite',
        madeBy: 'demo',
        progress,
      });
      const built = Date.now() - started;
      const status = await labStatus([name]);
      progress(
        `probing: pod to pod, pod to the outside (SNAT), the outside to pods (refused), node to pod${o.dualStack ? ', in IPv4 and IPv6' : ''}`,
      );
      const result = await labCheck(name);
      const pods = status.clusters[0].nodes.flatMap((n) => n.pods);
      const a = pods[0];
      const b = pods.at(-1) ?? a;
      const me = selfCommand();
      // The lab commands find the only lab on the host by themselves; another name has to be said.
      const at = name === 'demo' ? '' : ` --name ${name}`;
      // The lab's state and the probe results are the data (stdout); the story and what to try are hints.
      ctx.io.err(
        [
          '',
          `Lab "${name}" built in ${(built / 1000).toFixed(1)} s: a VNet namespace routing each node's /24 (the routing domain),`,
          'three nodes on two subnets each running a podnet agent, pods attached through the podnet-cni plugin,',
          'and two hosts outside the cluster (the internet, an on-premises network).',
        ].join('\n'),
      );
      ctx.io.out([renderStatus(status), '', renderCheck(result)].join('\n'));
      const passed = result.probes.filter((p) => p.ok).length;
      ctx.io.err(
        [
          '',
          'Try:',
          `  ${me} lab exec${at} ${a.name} -- ping -c 1 ${b.ip}   # pod to pod across pools, no encapsulation`,
          `  ${me} lab exec${at} ${a.name} -- ip route   # default via 169.254.1.1`,
          `  ${me} ipam show --lab ${name}   # each node's /24, its pods, the free blocks`,
          `  ${me} map --lab ${name} --out map.html   # the address map, in a browser`,
          `  ${me} lab scale${at} --pool user --count 2   # a new node leases a new block`,
          'Tear down:',
          `  ${me} lab down --name ${name}`,
          '',
          passed === result.probes.length
            ? `Shown: ${status.clusters[0].nodes.length} nodes each routing its own /24${o.dualStack ? ' and IPv6 /120' : ''} without encapsulation, pods reaching each other and the outside (SNAT to the node, then to the ${result.outbound.type} outbound address ${result.outbound.publicIp} for the internet), the outside refused: ${passed}/${result.probes.length} probes as expected. Try next: ${me} map --lab ${name} --out map.html`
            : `Shown: a ${status.clusters[0].nodes.length}-node lab where ${result.probes.length - passed} of ${result.probes.length} probes FAILED (listed above). Try next: ${me} lab check${at} -o json`,
        ].join('\n'),
      );
      ctx.exitCode = labCheckPassed(result) ? EXIT.ok : EXIT.problems;
    });
}
