/**
 * The service proxy at issue 11's scale: 1,000 Services with 10 endpoints each. Measures compiling the node
 * table (Services + endpoints -> the svc section -> text) and applying it with one `nft -f` into a throwaway
 * network namespace, against the floor of applying the same table without services in the same run; and what
 * one endpoint change touches (chains rewritten, map elements changed).
 */
import { randomBytes } from 'node:crypto';
import { renderTable, replaceTableScript } from '../src/dataplane/nft-table.js';
import {
  NODE_TABLE,
  type NodeTableInput,
  nodeTableInput,
  nodeTableSections,
} from '../src/dataplane/ruleset.js';
import type { PodEndpoint } from '../src/endpoints/record.js';
import { addNetns, deleteNetns } from '../src/kernel/netns.js';
import { nftApply } from '../src/kernel/nft.js';
import { compileServiceProxy } from '../src/services/proxy.js';
import type { Service } from '../src/services/types.js';

const SERVICES = 1000;
const ENDPOINTS = 10;

function world(shift = 0) {
  const services: Service[] = [];
  const endpoints: PodEndpoint[] = [];
  for (let i = 0; i < SERVICES; i++) {
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `s${i}`, namespace: 'bench' },
      spec: {
        type: 'ClusterIP',
        selector: { app: `a${i}` },
        clusterIP: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
        clusterIPs: [`10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`],
        ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
        internalTrafficPolicy: 'Cluster',
      },
    });
    for (let k = 0; k < ENDPOINTS; k++) {
      const n = i * ENDPOINTS + k + (i === 0 && k === 0 ? shift : 0);
      endpoints.push({
        node: `n${k % 5}`,
        nodeIp: '10.224.0.4',
        containerId: `c${n}`,
        ifname: 'eth0',
        ips: [`10.244.${Math.floor(n / 250)}.${(n % 250) + 1}`],
        namespace: 'bench',
        name: `p${n}`,
        labels: { app: `a${i}` },
      });
    }
  }
  return { services, endpoints };
}

const network = { podCidrs: ['10.244.0.0/16'], nonMasqueradeCidrs: [] };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function table(w: ReturnType<typeof world>): NodeTableInput {
  const base = nodeTableInput(network);
  return { ...base, services: compileServiceProxy(w, 'n0', base.snat.families) };
}

export default {
  name: 'services',
  async run(): Promise<string> {
    const ns = `svcb${randomBytes(2).toString('hex')}`;
    await addNetns(ns);
    try {
      const w = world();
      const build: number[] = [];
      const apply: number[] = [];
      const floor: number[] = [];
      const baseText = renderTable(NODE_TABLE, nodeTableSections(nodeTableInput(network)));
      let text = '';
      for (let r = 0; r < 5; r++) {
        let t = performance.now();
        text = renderTable(NODE_TABLE, nodeTableSections(table(w)));
        build.push(performance.now() - t);
        t = performance.now();
        await nftApply(replaceTableScript(NODE_TABLE, text), { netns: ns });
        apply.push(performance.now() - t);
        t = performance.now();
        await nftApply(replaceTableScript(NODE_TABLE, baseText), { netns: ns });
        floor.push(performance.now() - t);
      }
      // One endpoint of one service replaced by another pod: what differs between the two sections.
      const before = nodeTableSections(table(w)).find((s) => s.name === 'svc');
      const after = nodeTableSections(table(world(SERVICES * ENDPOINTS))).find((s) => s.name === 'svc');
      const chains = (s: typeof before) =>
        new Map((s?.chains ?? []).map((c) => [c.name, c.rules.join('\n')]));
      const a = chains(before);
      const b = chains(after);
      const changedChains = [...new Set([...a.keys(), ...b.keys()])].filter(
        (k) => a.get(k) !== b.get(k),
      ).length;
      const elems = (s: typeof before) =>
        new Set((s?.sets ?? []).flatMap((x) => x.elements.map((e) => `${x.name} ${e}`)));
      const ea = elems(before);
      const eb = elems(after);
      const changedElements =
        [...ea].filter((e) => !eb.has(e)).length + [...eb].filter((e) => !ea.has(e)).length;
      const total = build.map((x, i) => x + apply[i]);
      return [
        '### Service proxy (1,000 services x 10 endpoints)',
        '',
        '| measure | figure |',
        '|---|---:|',
        `| compile the node table (median of 5) | ${median(build).toFixed(0)} ms |`,
        `| apply it, one \`nft -f\` (median of 5) | ${median(apply).toFixed(0)} ms |`,
        `| built and applied (target < 1 s) | ${median(total).toFixed(0)} ms |`,
        `| floor: apply the table without services, same run | ${median(floor).toFixed(0)} ms |`,
        `| table text | ${(text.length / 1024).toFixed(0)} KiB |`,
        `| one endpoint change: chains whose rules change | ${changedChains} |`,
        `| one endpoint change: map/set elements that change | ${changedElements} |`,
        '',
        'One endpoint change rewrites the chains of that one service (its service chain and the endpoint chains that',
        'come and go), whatever the number of services; the map of all services keeps its elements. The agent applies',
        'the whole table in one transaction today, so the kernel work per change is the full apply above; an edit',
        "transaction (pol's tableDelta) would send only the changed chains.",
      ].join('\n');
    } finally {
      await deleteNetns(ns);
    }
  },
};
