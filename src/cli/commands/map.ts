/**
 * `podnet map -o html|svg`: the address map of a cluster (a store, a lab or a profile) as one static file. The
 * drawing is src/map's; the numbers are `podnet ipam show`'s view.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PodnetError } from '../../errors/index.js';
import { ipamView } from '../../ipam/show.js';
import { type MapInput, renderMapHtml, renderMapSvg } from '../../map/render.js';
import type { Nsg } from '../../nsg/types.js';
import { loadProfileFiles } from '../../profile/load.js';
import type { ClusterProfile } from '../../profile/types.js';
import { storeUrl } from '../../store/open.js';
import { worldFromFiles, worldFromStore } from '../../trace/world.js';
import type { CliContext } from '../main.js';
import { STORE_FLAG_HELP, withStore } from './cluster.js';
import { ipamInputOf, storeFlagOf } from './ipam.js';

interface MapOpts {
  store?: string;
  lab?: string;
  file?: string[];
  nsg?: string[];
  out?: string;
  output: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

const EXAMPLES = `
Examples:
  podnet map --lab demo --out demo-map.html
  podnet map --store etcd:http://10.0.0.5:2379 -o svg --out map.svg
  podnet map -f examples/basic.yaml --nsg nsg.json --out plan.html      before any node exists
  podnet map -f aks.json -f vnet.json > map.html

One static file, no script and no external resource: the VNet and its subnets with their nodes (NSG boundaries
dashed), the pod CIDR with each node's /24 coloured by use (quarantined blocks hatched, free blocks blank), the
service CIDR and the DNS service IP. Large clusters are aggregated: one cell per 2^k blocks past 4,096 blocks.`;

function nsgBySubnet(nsgs: Nsg[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of nsgs) for (const s of n.subnets) out[s] = n.name;
  return out;
}

function mapOf(profile: ClusterProfile, view: ReturnType<typeof ipamView>, nsgs: Nsg[]): MapInput {
  const planned: Record<string, number> = {};
  for (const p of profile.nodePools) planned[p.subnet] = (planned[p.subnet] ?? 0) + p.count;
  return {
    view,
    vnet: { name: profile.vnet.name, addressSpaces: profile.vnet.addressSpaces },
    nsgBySubnet: nsgBySubnet(nsgs),
    plannedNodes: planned,
  };
}

export function registerMap(program: Command, ctx: CliContext): void {
  program
    .command('map')
    .description('draw the address map: VNet, subnets and nodes, the pod CIDR by block, the service CIDR')
    .option('--store <url>', STORE_FLAG_HELP)
    .option('--lab <name>', 'the store of this lab (podnet lab up)')
    .option(
      '-f, --file <path>',
      'a profile, or AKS input, instead of a store: the plan before any node exists (repeatable)',
      collect,
    )
    .option(
      '--nsg <file>',
      'an NSG as az network nsg show -o json prints it: its subnets get a boundary (repeatable)',
      collect,
    )
    .option('--out <file>', 'write the map to this file (default: standard output)')
    .option('-o, --output <format>', 'html or svg', 'html')
    .addHelpText('after', EXAMPLES)
    .action(async (o: MapOpts) => {
      if (o.output !== 'html' && o.output !== 'svg') {
        throw new PodnetError('UsageError', `unknown map format "${o.output}"`, {
          field: '--output',
          hint: 'use -o html or -o svg',
        });
      }
      if (o.file !== undefined && (o.store !== undefined || o.lab !== undefined)) {
        throw new PodnetError(
          'UsageError',
          '-f draws a profile, --store and --lab a running cluster: give one',
          {
            field: '--file',
            hint: 'podnet map --lab demo, or podnet map -f profile.yaml',
          },
        );
      }
      const fileNsgs = o.nsg ? worldFromFiles(o.nsg).nsgs : [];
      let input: MapInput;
      if (o.file !== undefined) {
        const { profile } = loadProfileFiles(o.file);
        const view = ipamView({ profile, podCidrHistory: [], leases: [], quarantined: [], endpoints: [] });
        input = mapOf(profile, view, fileNsgs);
      } else {
        const flag = storeFlagOf(o);
        const data = await withStore(flag, ipamInputOf);
        // NSG objects kept in the store (podnet apply) draw their boundaries too.
        const stored = (await worldFromStore(storeUrl(flag))).nsgs;
        input = mapOf(data.profile, ipamView(data), [...stored, ...fileNsgs]);
      }
      const text = o.output === 'svg' ? renderMapSvg(input) : renderMapHtml(input);
      if (o.out === undefined) ctx.io.out(text);
      else {
        writeFileSync(o.out, text);
        ctx.io.err(`map: wrote ${o.out} (${Buffer.byteLength(text)} bytes)`);
      }
    });
}
