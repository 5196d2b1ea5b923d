/**
 * The service proxy at issue 11's scale, and a ClusterIP against direct pod access in a real lab.
 *
 * 1. 1,000 Services with 10 endpoints each: compiling the node table (Services + endpoints -> the svc section
 *    -> text) and applying it with one `nft -f` into a throwaway network namespace, against the floor of
 *    applying the same table without services in the same run; `nft`'s own CPU time beside the wall time
 *    (the machine is shared). Then one endpoint change as the agent sends it (`tableDelta` from the table it
 *    last wrote): the element and object edits, and that edit's apply time.
 * 2. In a 2-node lab, a client pod on one node and a server pod on the other: connections per second and one
 *    connection's latency (p50, p99), and iperf3 throughput, through a ClusterIP and to the pod's own address,
 *    in paired rounds (order alternating), each ratio the median of the per-round ratios.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import {
  type TableSection,
  renderTable,
  replaceTableScript,
  tableDelta,
} from '../src/dataplane/nft-table.js';
import { NODE_TABLE, nodeTableInput, nodeTableSections } from '../src/dataplane/ruleset.js';
import type { PodEndpoint } from '../src/endpoints/record.js';
import { addNetns, deleteNetns } from '../src/kernel/netns.js';
import { nftApply } from '../src/kernel/nft.js';
import { type NetnsProcess, execInNetns, spawnInNetns } from '../src/kernel/process.js';
import { labDown, labPodAdd, labUp } from '../src/lab/lab.js';
import type { LabPod } from '../src/lab/model.js';
import { waitFor } from '../src/lab/processes.js';
import { requireLab } from '../src/lab/state.js';
import { type ServiceProxyInput, compileServiceProxy } from '../src/services/proxy.js';
import type { Service } from '../src/services/types.js';
import { openVersionedStore } from '../src/store/open.js';
import { IPERF_PORT, IPERF_SECONDS, iperf, median } from './_net.js';

const SERVICES = 1000;
const ENDPOINTS = 10;
const ROUNDS = 10;
const CONNECT_SECONDS = 2;
const HTTP_PORT = 8080;

function world(change: 'none' | 'remove' | 'add' = 'none') {
  const services: Service[] = [];
  const endpoints: PodEndpoint[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const ip = `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `s${i}`, namespace: 'bench' },
      spec: {
        type: 'ClusterIP',
        selector: { app: `a${i}` },
        clusterIP: ip,
        clusterIPs: [ip],
        ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
        internalTrafficPolicy: 'Cluster',
      },
    });
    const count = i === 0 && change === 'add' ? ENDPOINTS + 1 : ENDPOINTS;
    for (let k = 0; k < count; k++) {
      // Service 0 loses its endpoint 3 (on node n3: not this node's, so no hairpin element changes).
      if (i === 0 && k === 3 && change === 'remove') continue;
      const n = i * (ENDPOINTS + 1) + k;
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
const ms = (x: number) => `${x.toFixed(0)} ms`;

/** CPU seconds of this process's waited-for children (nft, through `ip netns exec`), from /proc/self/stat. */
function childCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // cutime + cstime, USER_HZ = 100
}

function sections(w: ReturnType<typeof world>, previous?: ServiceProxyInput) {
  const base = nodeTableInput(network);
  const services = compileServiceProxy(w, 'n0', base.snat.families, previous);
  return { services, sections: nodeTableSections({ ...base, services }) };
}

async function scaleBench(): Promise<string[]> {
  const ns = `svcb${randomBytes(2).toString('hex')}`;
  await addNetns(ns);
  try {
    const w = world();
    const build: number[] = [];
    const buildCpu: number[] = [];
    const apply: number[] = [];
    const applyCpu: number[] = [];
    const floor: number[] = [];
    const floorCpu: number[] = [];
    const baseText = renderTable(NODE_TABLE, nodeTableSections(nodeTableInput(network)));
    let text = '';
    const timed = async (wall: number[], cpu: number[], f: () => Promise<void>) => {
      const c = childCpuMs();
      const t = performance.now();
      await f();
      wall.push(performance.now() - t);
      cpu.push(childCpuMs() - c);
    };
    for (let r = 0; r < 5; r++) {
      const c = process.cpuUsage();
      const t = performance.now();
      text = renderTable(NODE_TABLE, sections(w).sections);
      build.push(performance.now() - t);
      const u = process.cpuUsage(c);
      buildCpu.push((u.user + u.system) / 1000);
      // From the table without services each time, as a node meeting 1,000 services at once.
      await timed(apply, applyCpu, () => nftApply(replaceTableScript(NODE_TABLE, text), { netns: ns }));
      await timed(floor, floorCpu, () => nftApply(replaceTableScript(NODE_TABLE, baseText), { netns: ns }));
    }
    // One endpoint change as the agent sends it: the edit from the table it last wrote.
    const before = sections(w);
    await nftApply(replaceTableScript(NODE_TABLE, renderTable(NODE_TABLE, before.sections)), { netns: ns });
    const edits: { what: string; elements: number; objects: number; wall: number[] }[] = [];
    for (const change of ['remove', 'add'] as const) {
      const after = sections(world(change), before.services);
      const there = tableDelta(NODE_TABLE, before.sections, after.sections);
      const back = tableDelta(NODE_TABLE, after.sections, before.sections as TableSection[]);
      if (!there || !back) throw new Error('an endpoint change must be an edit');
      const wall: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t = performance.now();
        await nftApply(there.script, { netns: ns });
        wall.push(performance.now() - t);
        await nftApply(back.script, { netns: ns });
      }
      edits.push({
        what: change === 'remove' ? 'one endpoint leaves' : 'one endpoint comes',
        elements: there.elements,
        objects: there.objects,
        wall,
      });
    }
    const total = build.map((x, i) => x + apply[i]);
    const chains = text.split('\n\tchain ').length - 1;
    return [
      '### Service proxy (1,000 services x 10 endpoints)',
      '',
      `Load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs at the end of this part.`,
      '',
      '| measure (median of 5) | wall | CPU |',
      '|---|---:|---:|',
      `| compile the node table (Services + endpoints -> text) | ${ms(median(build))} | ${ms(median(buildCpu))} (this process) |`,
      `| apply it, one \`nft -f\` | ${ms(median(apply))} | ${ms(median(applyCpu))} (nft) |`,
      `| **built and applied** (target < 1 s) | **${ms(median(total))}** | ${ms(median(buildCpu.map((x, i) => x + applyCpu[i])))} |`,
      `| floor: apply the table without services, same run | ${ms(median(floor))} | ${ms(median(floorCpu))} (nft) |`,
      '',
      `The table: ${(text.length / 1024).toFixed(0)} KiB of text, ${chains} chains (one per service port; no per-endpoint chain without affinity), one \`svc_m_\` map of 10 slots per service.`,
      '',
      '| one endpoint change of one service, sent as an edit (`tableDelta`) | elements | objects | apply (median of 5) |',
      '|---|---:|---:|---:|',
      ...edits.map((e) => `| ${e.what} | ${e.elements} | ${e.objects} | ${ms(median(e.wall))} |`),
      '',
      "The objects are the service's own chain, whose two rules carry `numgen random mod N`; the elements are the",
      "slots (a leaving endpoint's slot takes the last one) and, for this node's endpoints, the hairpin pair. Neither",
      'depends on the number of services or endpoints.',
    ];
  } finally {
    await deleteNetns(ns);
  }
}

interface Probe {
  rate: number;
  p50: number;
  p99: number;
}

async function connectRate(from: LabPod, ip: string): Promise<Probe> {
  const script = fileURLToPath(new URL('./_connect-rate.js', import.meta.url));
  const r = await execInNetns(
    from.netns,
    [process.execPath, script, ip, String(HTTP_PORT), String(CONNECT_SECONDS)],
    { timeoutMs: (CONNECT_SECONDS + 10) * 1000 },
  );
  if (r.code !== 0) throw new Error(`connect-rate to ${ip} failed: ${r.stderr}`);
  const [rate, p50, p99] = r.stdout.trim().split(' ').map(Number);
  return { rate, p50, p99 };
}

async function labBench(): Promise<string[]> {
  const name = `svcb${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'svcb-'));
  const bin = fileURLToPath(new URL('../../bin/podnet.js', import.meta.url));
  let server: NetnsProcess | null = null;
  const load = [loadavg()[0]];
  try {
    await labUp({ name, nodes: 2, podsPerNode: 0 });
    const srv = await labPodAdd(name, 'user-0', {
      name: 'srv',
      namespace: 'bench',
      labels: { app: 'srv' },
      ports: [{ containerPort: HTTP_PORT, protocol: 'TCP' }],
    });
    const cli = await labPodAdd(name, 'sys-0', { name: 'cli', namespace: 'bench', labels: { app: 'cli' } });
    server = spawnInNetns(srv.netns, ['iperf3', '-s', '-p', String(IPERF_PORT)]);
    const file = join(dir, 'svc.yaml');
    writeFileSync(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'srv', namespace: 'bench' },
        spec: {
          selector: { app: 'srv' },
          ports: [
            { name: 'http', port: HTTP_PORT, targetPort: HTTP_PORT },
            { name: 'iperf', port: IPERF_PORT, targetPort: IPERF_PORT },
          ],
        },
      }),
    );
    const r = await execInNetns(null, [process.execPath, bin, 'apply', '-f', file, '--lab', name], {
      timeoutMs: 60_000,
    });
    if (r.code !== 0) throw new Error(`podnet apply: ${r.stderr}`);
    const kv = await openVersionedStore(requireLab(name).store.url);
    let clusterIp = '';
    try {
      const got = await kv.get('objects/services/bench/srv');
      clusterIp = (JSON.parse(got?.value ?? '{}') as Service).spec.clusterIP ?? '';
    } finally {
      await kv.close();
    }
    const direct = srv.ip as string;
    const answers = async (ip: string) => {
      const p = await execInNetns(cli.netns, ['nc', '-N', '-w', '2', ip, String(HTTP_PORT)], { input: '' });
      return p.stdout.includes('bench/srv') ? true : undefined;
    };
    await waitFor('the server pod answers', 20_000, () => answers(direct));
    await waitFor('the ClusterIP answers', 20_000, () => answers(clusterIp));
    await waitFor('iperf3 listens', 10_000, async () =>
      (await iperf(cli, direct).catch(() => 0)) > 0 ? true : undefined,
    );
    const probes: Record<'direct' | 'service', Probe[]> = { direct: [], service: [] };
    const tput: Record<'direct' | 'service', number[]> = { direct: [], service: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['direct', 'service'] as const) : (['service', 'direct'] as const);
      const ip = (p: 'direct' | 'service') => (p === 'direct' ? direct : clusterIp);
      for (const p of order) probes[p].push(await connectRate(cli, ip(p)));
      for (const p of order) tput[p].push(await iperf(cli, ip(p)));
    }
    load.push(loadavg()[0]);
    const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]));
    const spread = (a: number[], b: number[]) =>
      a
        .map((x, i) => x / b[i])
        .sort((x, y) => x - y)
        .map((x) => x.toFixed(2))
        .join(', ');
    const col = (p: 'direct' | 'service', k: keyof Probe) => probes[p].map((x) => x[k]);
    const row = (label: string, p: 'direct' | 'service') =>
      `| ${label} | ${median(col(p, 'rate')).toFixed(0)} | ${median(col(p, 'p50')).toFixed(0)} | ${median(col(p, 'p99')).toFixed(0)} | ${median(tput[p]).toFixed(2)} |`;
    return [
      '### ClusterIP against direct pod access (2-node lab, client and server pods on different nodes)',
      '',
      `${ROUNDS} paired rounds (order alternating): new TCP connections one after another for ${CONNECT_SECONDS} s (connect, read the responder's answer, close), then iperf3 1 stream for ${IPERF_SECONDS} s (the first 0.5 s left out). Load average ${load.map((x) => x.toFixed(1)).join(' -> ')} on ${cpus().length} CPUs. Medians:`,
      '',
      '| path | connections/s | connection p50 us | connection p99 us | Gbit/s |',
      '|---|---:|---:|---:|---:|',
      row('to the pod address', 'direct'),
      row(`through the ClusterIP (DNAT on the client's node)`, 'service'),
      '',
      '| ClusterIP / direct (median of per-round ratios) | figure | target |',
      '|---|---:|---|',
      `| connection rate | ${ratio(col('service', 'rate'), col('direct', 'rate')).toFixed(2)} | within 10% (>= 0.90) |`,
      `| connection latency p50 | ${ratio(col('service', 'p50'), col('direct', 'p50')).toFixed(2)} | within 10% (<= 1.10) |`,
      `| throughput | ${ratio(tput.service, tput.direct).toFixed(2)} | >= 0.95 |`,
      '',
      `Per-round ratios, sorted (the noise of this shared machine): connection rate ${spread(col('service', 'rate'), col('direct', 'rate'))}; throughput ${spread(tput.service, tput.direct)}.`,
    ];
  } finally {
    server?.kill('SIGKILL');
    await labDown(name).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

export default {
  name: 'services',
  async run(): Promise<string> {
    return [...(await scaleBench()), '', ...(await labBench())].join('\n');
  },
};
