/**
 * NetworkPolicy enforcement at scale, two parts:
 *  - compile: 1,000 policies over 5,000 pods (50 namespaces x 100 pods on 20 nodes of 250), compiled by the
 *    engine and laid out into one node's table section (compilePolicies, compileNodePolicy, policySection,
 *    renderTable), and the edits one change costs against the previous table (tableDelta): a new pod that
 *    rules admit, a pod's label change, a policy's rule edit, a new policy over pods already isolated;
 *  - trace: flows per second through `trace` (route, SNAT and NetworkPolicy over the same world, in-process),
 *    beside the policy engine's own verdicts for the same flows (its floor: trace calls it, then adds layers);
 *  - lab: TCP throughput (iperf3) and the rate of new TCP connections between two pods on different nodes
 *    of a real lab, with no policy and with 1,000 policies selecting the server where the last one admits the
 *    client, in paired rounds of one run (policies applied, measured, deleted, measured, alternating).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { renderTable, tableDelta } from '../src/dataplane/nft-table.js';
import { NODE_TABLE } from '../src/dataplane/ruleset.js';
import { nftListTable } from '../src/kernel/nft.js';
import { type NetnsProcess, execInNetns, spawnInNetns } from '../src/kernel/process.js';
import { defaultLabProfile } from '../src/lab/default-profile.js';
import { labDown, labPodAdd, labUp } from '../src/lab/lab.js';
import type { LabPod } from '../src/lab/model.js';
import { sleep, waitFor } from '../src/lab/processes.js';
import { requireLab } from '../src/lab/state.js';
import { defaultNetworkPolicy } from '../src/policy/defaults.js';
import { compilePolicies, evaluatePolicies } from '../src/policy/engine.js';
import { compileNodePolicy, policySection } from '../src/policy/nft.js';
import type { NetworkPolicy, PolicyPod, PolicyWorld } from '../src/policy/types.js';
import { type TraceFlow, compileWorld, trace } from '../src/trace/trace.js';
import { IPERF_PORT, IPERF_SECONDS, iperf, median } from './_net.js';

const NAMESPACES = 50;
const PODS_PER_NS = 100;
const NODES = 20;
const POLICIES_PER_NS = 20;
const NODE = 'node-0';

function benchPod(ns: number, i: number): PolicyPod {
  // Spread so that every node runs pods of every app: (i + 3 ns) mod 20 picks the node.
  const node = (i + 3 * ns) % NODES;
  const slot = Math.floor((ns * PODS_PER_NS + i) / NODES) + 4;
  return {
    namespace: `team-${ns}`,
    name: `app-${i % 10}-${i}`,
    labels: { app: `app-${i % 10}`, role: i % 3 === 0 ? 'client' : 'worker', tier: `t${i % 4}` },
    ips: [`10.244.${node}.${slot}`],
    node: `node-${node}`,
    ports: [
      { name: 'http', containerPort: 8080 + (i % 3), protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ],
  };
}

/** Twenty policies per namespace in the shapes people write: default deny, app ingress, named ports, egress. */
function benchPolicy(ns: number, k: number): NetworkPolicy {
  const app = `app-${k % 10}`;
  const spec: NetworkPolicy['spec'] =
    k === 0
      ? {
          podSelector: {},
          policyTypes: ['Ingress', 'Egress'],
          egress: [{ ports: [{ protocol: 'UDP', port: 53 }] }],
        }
      : k < 10
        ? {
            podSelector: { matchLabels: { app } },
            ingress: [
              {
                from: [
                  { podSelector: { matchLabels: { role: 'client' } } },
                  {
                    namespaceSelector: {
                      matchLabels: { 'kubernetes.io/metadata.name': `team-${(ns + 1) % NAMESPACES}` },
                    },
                    podSelector: { matchLabels: { tier: `t${k % 4}` } },
                  },
                ],
                ports: [{ port: 'http' }, { port: 7000 + k, endPort: 7010 + k }],
              },
            ],
          }
        : {
            podSelector: { matchLabels: { app } },
            policyTypes: ['Egress'],
            egress: [
              {
                to: [{ podSelector: { matchLabels: { app: `app-${(k + 1) % 10}` } } }],
                ports: [{ port: 'http' }],
              },
              {
                to: [
                  {
                    ipBlock: {
                      cidr: `172.${16 + (k % 8)}.0.0/16`,
                      except: [`172.${16 + (k % 8)}.${ns}.0/24`],
                    },
                  },
                ],
              },
            ],
          };
  return defaultNetworkPolicy({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `p${k}`, namespace: `team-${ns}` },
    spec,
  });
}

function benchWorld(): PolicyWorld {
  const nss = Array.from({ length: NAMESPACES }, (_, ns) => `team-${ns}`);
  return {
    namespaces: new Map(nss.map((n) => [n, { 'kubernetes.io/metadata.name': n }])),
    pods: nss.flatMap((_, ns) => Array.from({ length: PODS_PER_NS }, (_, i) => benchPod(ns, i))),
    policies: nss.flatMap((_, ns) => Array.from({ length: POLICIES_PER_NS }, (_, k) => benchPolicy(ns, k))),
  };
}

function compileNode(w: PolicyWorld) {
  const compiled = compilePolicies(w);
  const section = policySection(compileNodePolicy(compiled, w.pods, NODE, [4]));
  return { section, text: renderTable(NODE_TABLE, [section]) };
}

async function compileBench(): Promise<string[]> {
  const w = benchWorld();
  compileNode(w); // warm up
  const times: number[] = [];
  const cpu: number[] = [];
  let last = compileNode(w);
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    last = compileNode(w);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    times.push(performance.now() - t0);
  }
  const { section, text } = last;
  const elements = section.sets.reduce((n, s) => n + s.elements.length, 0);
  const classes = section.chains.filter((c) => !c.base).length;
  const local = w.pods.filter((p) => p.node === NODE).length;
  const change = (what: string, next: PolicyWorld) => {
    const d = tableDelta(NODE_TABLE, [section], [compileNode(next).section]);
    return `| ${what} | ${d ? `${d.elements} elements, ${d.objects} sets/chains` : 'table replaced'} |`;
  };
  const newPod: PolicyPod = { ...benchPod(3, 0), name: 'new-client', ips: ['10.244.7.250'], node: 'node-7' };
  const relabelled = w.pods.map((p, i) =>
    i === 301 ? { ...p, labels: { ...p.labels, role: 'client' } } : p,
  );
  // team-1's pods on node-0 are all app-7 (see benchPod): its policy p7 isolates local pods.
  const ns = 1;
  const app = ((NODES - ((3 * ns) % NODES)) % NODES) % 10;
  const edited = w.policies.map((p, i) =>
    i === ns * POLICIES_PER_NS + app
      ? {
          ...p,
          spec: {
            ...p.spec,
            ingress: [
              {
                ...(p.spec.ingress?.[0] ?? {}),
                ports: [...(p.spec.ingress?.[0]?.ports ?? []), { protocol: 'TCP' as const, port: 443 }],
              },
            ],
          },
        }
      : p,
  );
  const added = defaultNetworkPolicy({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'extra', namespace: `team-${ns}` },
    spec: {
      podSelector: { matchLabels: { app: `app-${app}` } },
      ingress: [{ from: [{ ipBlock: { cidr: '192.168.5.0/24' } }] }],
    },
  });
  return [
    "### NetworkPolicy: compile 1,000 policies over 5,000 pods into one node's table",
    '',
    `${NAMESPACES} namespaces x ${PODS_PER_NS} pods on ${NODES} nodes; ${POLICIES_PER_NS} policies per namespace (default deny with DNS egress, app ingress from clients and a neighbour namespace's tier on a named port and a port range, app egress to another app's named port and to an ipBlock with except). One node (${local} local pods).`,
    '',
    '| what | figure |',
    '|---|---|',
    `| compile (engine + node section + render), median of 5 | ${median(times).toFixed(0)} ms (CPU ${median(cpu).toFixed(0)} ms; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs) |`,
    `| node section | ${classes} classes, ${section.sets.length} sets and maps, ${elements} elements, ${(text.length / 1024).toFixed(0)} KiB of nft text |`,
    '',
    'One change, as the agent sends it (`tableDelta`: add/delete element in one transaction; the table is not rewritten):',
    '',
    '| change | edits |',
    '|---|---|',
    change("a new client pod on another node (admitted by rules of this node's classes)", {
      ...w,
      pods: [...w.pods, newPod],
    }),
    change('a pod on another node relabelled to role=client', { ...w, pods: relabelled }),
    change("a policy of this node's pods gets one more port", { ...w, policies: edited }),
    change('a new policy over pods already isolated (their class changes)', {
      ...w,
      policies: [...w.policies, added],
    }),
  ];
}

// ---- trace ----

const TRACE_FLOWS = 20_000;

export function traceBench(): string[] {
  const w = benchWorld();
  const world = {
    ...w,
    profile: defaultLabProfile('bench'),
    pods: w.pods.map((p) => ({ ...p, hostIP: `10.224.0.${4 + Number(p.node?.slice(5))}` })),
    nsgs: [],
    nics: [],
  };
  // A fixed sequence of pod pairs and ports (a linear congruential walk), the same for both arms.
  let x = 7;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x;
  };
  const flows = Array.from({ length: TRACE_FLOWS }, () => {
    const a = world.pods[next() % world.pods.length];
    const b = world.pods[next() % world.pods.length];
    return { a, b, port: [53, 8080, 8081, 9090, 7005][next() % 5] };
  });
  const t0 = performance.now();
  const compiled = compileWorld(world);
  const compileMs = performance.now() - t0;
  const verdicts = { allow: 0, deny: 0 };
  const t1 = performance.now();
  for (const f of flows) {
    const flow: TraceFlow = {
      from: `${f.a.namespace}/${f.a.name}`,
      to: `${f.b.namespace}/${f.b.name}`,
      protocol: 'TCP',
      port: f.port,
      state: 'new',
    };
    verdicts[trace(world, flow, compiled).verdict]++;
  }
  const traceS = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  for (const f of flows) {
    evaluatePolicies(compiled, {
      src: { pod: f.a, ip: f.a.ips[0] },
      dst: { pod: f.b, ip: f.b.ips[0] },
      protocol: 'TCP',
      port: f.port,
    });
  }
  const engineS = (performance.now() - t2) / 1000;
  const rate = TRACE_FLOWS / traceS;
  return [
    '### Trace: flows per second against the 1,000-policy world',
    '',
    `The compile part's world (5,000 pods, 1,000 policies) with the lab's default profile, so route and SNAT are traced too; ${TRACE_FLOWS} TCP flows between pods picked by a fixed walk, in-process, after one compile (${compileMs.toFixed(0)} ms). Floor: the policy engine's verdicts for the same flows, which trace calls and then adds its other layers and hops to.`,
    '',
    '| arm | flows per second |',
    '|---|---|',
    `| \`trace\` (route, nat, networkpolicy; ${verdicts.allow} allowed, ${verdicts.deny} denied) | ${Math.round(rate)} |`,
    `| floor: \`evaluatePolicies\` alone | ${Math.round(TRACE_FLOWS / engineS)} |`,
    '',
    `trace: **${Math.round(rate)}** flows/s (target: 10,000 or more), ${(traceS / engineS).toFixed(2)}x the engine's time per flow; load average ${loadavg()[0].toFixed(1)}.`,
  ];
}

// ---- the lab part ----

const ROUNDS = 4;
const CONNECT_PORT = 8080;
const CONNECT_SECONDS = 2;
const POLICIES = 1000;

/** New TCP connections per second, one after another, each answered by the server's responder. */
async function connectRate(from: LabPod, to: LabPod): Promise<number> {
  const script = fileURLToPath(new URL('./_connect-rate.js', import.meta.url));
  const r = await execInNetns(
    from.netns,
    [process.execPath, script, to.ip as string, String(CONNECT_PORT), String(CONNECT_SECONDS)],
    {
      timeoutMs: (CONNECT_SECONDS + 10) * 1000,
    },
  );
  if (r.code !== 0) throw new Error(`connect-rate failed: ${r.stderr}`);
  return Number(r.stdout.trim().split(' ')[0]);
}

/** Etcd takes at most 128 operations per transaction: the policies go in files of 100, one apply each. */
const PER_APPLY = 100;

function policyFiles(dir: string): string[] {
  const docs = Array.from({ length: POLICIES }, (_, i) => {
    const last = i === POLICIES - 1;
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `p${String(i).padStart(4, '0')}`, namespace: 'bench' },
      spec: {
        podSelector: {},
        ingress: [
          last
            ? {
                from: [{ podSelector: { matchLabels: { role: 'client' } } }],
                ports: [{ port: IPERF_PORT }, { port: CONNECT_PORT }],
              }
            : {
                from: [{ ipBlock: { cidr: `172.16.${i >> 8}.${i & 255}/32` } }],
                ports: [{ port: 10_000 + i }],
              },
        ],
      },
    };
  });
  const files: string[] = [];
  for (let i = 0; i < docs.length; i += PER_APPLY) {
    const file = join(dir, `policies-${files.length}.yaml`);
    writeFileSync(
      file,
      docs
        .slice(i, i + PER_APPLY)
        .map((d) => stringify(d))
        .join('---\n'),
    );
    files.push(file);
  }
  return files;
}

async function labBench(): Promise<string[]> {
  const name = `polb${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'polb-'));
  const bin = fileURLToPath(new URL('../../bin/podnet.js', import.meta.url));
  let server: NetnsProcess | null = null;
  try {
    await labUp({ name, nodes: 2, podsPerNode: 0 });
    const ports = [{ containerPort: CONNECT_PORT, protocol: 'TCP' as const }];
    const srv = await labPodAdd(name, 'user-0', {
      name: 'srv',
      namespace: 'bench',
      labels: { app: 'srv' },
      ports,
    });
    const cli = await labPodAdd(name, 'sys-0', {
      name: 'cli',
      namespace: 'bench',
      labels: { role: 'client' },
    });
    server = spawnInNetns(srv.netns, ['iperf3', '-s', '-p', String(IPERF_PORT)]);
    await waitFor('the server answers', 10_000, async () =>
      (await connectRate(cli, srv)) > 0 ? true : undefined,
    );
    const files = policyFiles(dir);
    const podnet = async (...args: string[]) => {
      const r = await execInNetns(null, [process.execPath, bin, ...args, '--lab', name], {
        timeoutMs: 120_000,
      });
      if (r.code !== 0) throw new Error(`podnet ${args.join(' ')}: ${r.stderr}`);
    };
    const userNode = requireLab(name).nodes.find((n) => n.name === 'user-0');
    const listing = async () => (await nftListTable('inet', 'podnet_node', { netns: userNode?.netns })) ?? '';
    // All 1,000 in force: the server's class holds the 999 /32 . port elements and the client's two.
    const allEnforced = async () => (await listing()).split(' . tcp . ').length - 1 >= POLICIES + 1;
    const enforced = async () =>
      ((await nftListTable('inet', 'podnet_node', { netns: userNode?.netns })) ?? '').includes(
        'pol_ingress_v4',
      );
    // One policy, three times: from the start of podnet apply until every node's table isolates its pods.
    const deny = join(dir, 'deny.yaml');
    writeFileSync(
      deny,
      stringify({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'deny', namespace: 'bench' },
        spec: { podSelector: {}, policyTypes: ['Ingress'] },
      }),
    );
    const isolatingOn = async (netns: string) =>
      ((await nftListTable('inet', 'podnet_node', { netns })) ?? '').includes('pol_ingress_v4');
    const everyNode = async (want: boolean) =>
      (await Promise.all(requireLab(name).nodes.map((n) => isolatingOn(n.netns)))).every((x) => x === want);
    const latency: { applied: number; enforced: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await podnet('apply', '-f', deny);
      const applied = performance.now() - t0;
      await waitFor('every node enforcing', 10_000, async () => ((await everyNode(true)) ? true : undefined));
      latency.push({ applied, enforced: performance.now() - t0 });
      await podnet('delete', '-f', deny);
      await waitFor('every node without policy', 10_000, async () =>
        (await everyNode(false)) ? true : undefined,
      );
    }
    const rows: { none: [number, number]; policies: [number, number] }[] = [];
    let applySeconds = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const none: [number, number] = [await iperf(cli, srv.ip as string), await connectRate(cli, srv)];
      const t0 = performance.now();
      for (const f of files) await podnet('apply', '-f', f);
      await waitFor('the policies enforced', 60_000, async () => ((await allEnforced()) ? true : undefined));
      applySeconds = Math.max(applySeconds, (performance.now() - t0) / 1000);
      await sleep(200);
      const policies: [number, number] = [await iperf(cli, srv.ip as string), await connectRate(cli, srv)];
      for (const f of files) await podnet('delete', '-f', f);
      await waitFor('the policies gone', 60_000, async () => ((await enforced()) ? undefined : true));
      rows.push({ none, policies });
    }
    const ratio = (k: 0 | 1) => median(rows.map((r) => r.policies[k] / r.none[k]));
    const med = (f: (r: (typeof rows)[number]) => number) => median(rows.map(f));
    return [
      '### NetworkPolicy in a lab: two pods on two nodes, no policy vs 1,000 policies',
      '',
      `1,000 policies select the server (podSelector {}), each admitting another /32 on another port; the last admits the client's pods on the measured ports. ${ROUNDS} paired rounds (no policy, then the policies applied with \`podnet apply\`, then deleted); each ratio is the median of per-round ratios. iperf3 ${IPERF_SECONDS} s, one stream; connections: new TCP connections one after another for ${CONNECT_SECONDS} s, each a full connect, answer, close (every one a new conntrack entry, so every one takes the policy path).`,
      '',
      '| figure | no policy | 1,000 policies | ratio |',
      '|---|---|---|---|',
      `| TCP throughput (Gbit/s) | ${med((r) => r.none[0]).toFixed(2)} | ${med((r) => r.policies[0]).toFixed(2)} | ${ratio(0).toFixed(3)} |`,
      `| new TCP connections per second | ${med((r) => r.none[1]).toFixed(0)} | ${med((r) => r.policies[1]).toFixed(0)} | ${ratio(1).toFixed(3)} |`,
      '',
      `One policy (default deny of the namespace, pods on both nodes), 3 times: \`podnet apply\` returned after ${median(latency.map((l) => l.applied)).toFixed(0)} ms (median; a CLI process start included), and every node's table isolated its pods ${median(latency.map((l) => l.enforced)).toFixed(0)} ms (median, at most ${Math.max(...latency.map((l) => l.enforced)).toFixed(0)} ms) after the apply started (tables read every 100 ms).`,
      '',
      `The 1,000 policies applied (${POLICIES / PER_APPLY} podnet apply runs of ${PER_APPLY}, etcd's transaction limit) until the server's node enforced all of them: at most ${applySeconds.toFixed(1)} s over the rounds.`,
    ];
  } finally {
    server?.kill('SIGKILL');
    await labDown(name).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

export default {
  name: 'policy',
  async run(): Promise<string> {
    return [...(await compileBench()), '', ...traceBench(), '', ...(await labBench())].join('\n');
  },
};
