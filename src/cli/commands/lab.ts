/**
 * `podnet lab ...`: a whole overlay cluster, its VNet and an outside world in network namespaces on this
 * host. Handlers return data; this module renders it (table or `-o json`) and sets the exit code.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { PodnetError } from '../../errors/index.js';
import { runKubelet } from '../../lab/kubelet.js';
import {
  type LabCheckResult,
  type StatusJson,
  labCheck,
  labCheckPassed,
  labDown,
  labExec,
  labFabric,
  labPodAdd,
  labPodDel,
  labRestartAgent,
  labScale,
  labStatus,
  labUp,
  labUpdatePodCidr,
} from '../../lab/lab.js';
import type { StoreKind } from '../../lab/model.js';
import { parseLabels } from '../../lab/pod-objects.js';
import { junitXml, outboundLine, probeFailure, probeKindLabel, probeName } from '../../lab/report.js';
import { listLabs, readLab, resolveLabName } from '../../lab/state.js';
import { OUTBOUND_TYPES } from '../../profile/normalize.js';
import type { OutboundType } from '../../profile/types.js';
import type { CliContext } from '../main.js';
import {
  EXIT,
  OUTPUT_HELP,
  type OutputFormat,
  emit,
  examples,
  isData,
  parseOutputFormat,
  table,
} from '../output.js';
import { renderTrace } from './trace.js';

function wholeNumber(v: string, flag: string): number {
  if (!/^[0-9]+$/.test(v)) {
    throw new PodnetError('UsageError', `${flag} must be a whole number, got "${v}"`, {
      field: flag,
      hint: `e.g. ${flag} 3`,
    });
  }
  return Number(v);
}

function storeKind(v: string): StoreKind {
  if (v === 'sqlite' || v === 'etcd') return v;
  throw new PodnetError('UsageError', `--store must be sqlite or etcd, got "${v}"`, {
    field: '--store',
    hint: 'sqlite: one file in the lab folder; etcd: the lab starts its own etcd in the VNet, with mutual TLS',
  });
}

function outboundType(v: string): OutboundType {
  const t = OUTBOUND_TYPES.find((x) => x === v);
  if (t) return t;
  throw new PodnetError(
    'UsageError',
    `--outbound-type must be one of ${OUTBOUND_TYPES.join(', ')}, got "${v}"`,
    {
      field: '--outbound-type',
      hint: 'e.g. --outbound-type managedNATGateway (learn.microsoft.com/azure/aks/egress-outboundtype)',
    },
  );
}

/** An IPv4 value and, in a dual-stack lab, its IPv6 twin: `10.244.0.1,fd12:3456:789a::1`. */
const both = (v4: string, v6?: string) => (v6 ? `${v4},${v6}` : v4);

/** `lab status`; `wide` adds each pod's namespace and each cluster's pod CIDR and VNet namespace. */
export function renderStatus(s: StatusJson, wide = false): string {
  const rows: string[][] = [];
  const extra = (...cells: string[]) => (wide ? cells : []);
  for (const c of s.clusters) {
    for (const n of c.nodes) {
      rows.push([
        c.name,
        `node/${n.name}`,
        n.pool,
        both(n.ip, n.ip6),
        both(n.block ?? '-', n.block6),
        n.netns,
        n.agent,
        ...extra('', c.podCidr, c.vnetNetns),
      ]);
      for (const p of n.pods)
        rows.push([
          c.name,
          `pod/${p.name}`,
          n.name,
          both(p.ip ?? '-', p.ip6),
          '',
          p.netns,
          '',
          ...extra(p.namespace, c.podCidr, c.vnetNetns),
        ]);
    }
  }
  for (const h of s.externalHosts)
    rows.push(['', `external/${h.name}`, '', both(h.ip, h.ip6), '', h.netns, '', ...extra('', '', '')]);
  return table(
    [
      'cluster',
      'name',
      'pool/node',
      'ip',
      'block',
      'netns',
      'agent',
      ...extra('namespace', 'pod cidr', 'vnet netns'),
    ],
    rows,
  );
}

/** `lab check`; `wide` adds the source the receiver had to see, the probe's time and what `nc` said. */
export function renderCheck({ probes, outbound, ipam, agents }: LabCheckResult, wide = false): string {
  const rows = probes.map((p) => [
    p.ok ? 'ok' : 'FAIL',
    probeKindLabel(p),
    p.from,
    p.to,
    p.expect,
    p.sourceSeen ?? '-',
    p.expect === 'deny' ? p.decidedBy : '',
    ...(wide ? [p.source ?? '-', `${Math.round(p.durationSeconds * 1000)} ms`, p.detail ?? ''] : []),
  ]);
  const headers = ['result', 'kind', 'from', 'to', 'expect', 'source seen', 'denied by (trace)'];
  const failed = probes.filter((p) => !p.ok);
  const inconsistent = ipam.filter((n) => n.findings.length > 0);
  const silent = agents.filter((a) => a.problems.length > 0);
  // A probe that disagreed: the trace that explains what was expected.
  const explained = failed.flatMap((p) =>
    p.trace ? ['', `${probeName(p)}: the trace of what was expected:`, renderTrace(p.trace)] : [],
  );
  return [
    table(wide ? [...headers, 'source expected', 'time', 'nc said'] : headers, rows),
    '',
    `${probes.length - failed.length}/${probes.length} probes as trace expects${failed.length ? `, ${failed.length} FAILED:` : ''}`,
    ...failed.flatMap((p) => {
      const f = probeFailure(p);
      return f ? [`  ${probeName(p)}: ${f.reason}`, `    expected: ${f.expected}`] : [];
    }),
    ...explained,
    outboundLine(outbound),
    `${ipam.length - inconsistent.length}/${ipam.length} nodes with consistent IPAM (podnet ipam check)${
      inconsistent.length ? `, ${inconsistent.length} FAILED:` : ''
    }`,
    ...inconsistent.flatMap((n) =>
      n.findings.map((f) => `  ${n.node}: ${f.code} ${f.subject}: ${f.message}`),
    ),
    `${agents.length - silent.length}/${agents.length} agents healthy (podnet status)${silent.length ? `, ${silent.length} FAILED:` : ''}`,
    ...silent.flatMap((a) => a.problems.map((p) => `  ${a.node}: ${p.code}: ${p.message}`)),
  ].join('\n');
}

/**
 * How to call podnet again in printed hints: `podnet` when it is on the PATH (installed), otherwise the
 * script as it was run (`node bin/podnet.js` from a checkout).
 */
export function selfCommand(): string {
  const onPath = (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, 'podnet')));
  const script = process.argv[1];
  return onPath || !script ? 'podnet' : `node ${relative(process.cwd(), script) || script}`;
}

/** What lab up says after the status table (on stderr): the lab in one line and what to try. */
function nextSteps(s: StatusJson, name: string): string {
  const c = s.clusters[0];
  const pods = c?.nodes.flatMap((n) => n.pods) ?? [];
  const me = selfCommand();
  return [
    '',
    `lab ${name} is up: ${c?.nodes.length ?? 0} nodes, ${c?.nodes.filter((n) => n.block).length ?? 0} blocks, ${pods.length} pods; pod CIDR ${c?.podCidr}`,
    pods.length > 0
      ? `  exec into a pod:   ${me} lab exec ${pods[0].name} --name ${name} -- ping -c 1 ${pods.at(-1)?.ip}`
      : '',
    `  probe everything:  ${me} lab check --name ${name}`,
    `  see the addresses: ${me} ipam show --lab ${name}; ${me} map --lab ${name} --out map.html`,
    `  tear it down:      ${me} lab down --name ${name}`,
  ]
    .filter((l) => l !== '')
    .join('\n');
}

/** Registers the `lab` command(s). */
export function registerLab(program: Command, ctx: CliContext): void {
  const lab = program
    .command('lab')
    .description('a whole overlay cluster, its VNet and an outside world in network namespaces on this host')
    .addHelpText(
      'after',
      examples('podnet lab up --name demo', 'podnet lab check', 'podnet lab down --name demo'),
    );
  // Long work says what it does and how long it has taken, on stderr.
  const timed = () => {
    const started = Date.now();
    return (m: string) => ctx.io.err(`lab: ${m} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  };
  const out = (
    format: OutputFormat,
    kind: string,
    data: object,
    text: string | ((wide: boolean) => string),
  ) => emit(ctx.io, format, kind, data, (wide) => (typeof text === 'string' ? text : text(wide)));

  lab
    .command('up')
    .description('build a lab: VNet, nodes with agents, pods through the CNI plugin, external hosts')
    .addHelpText(
      'after',
      examples(
        'podnet lab up --name demo',
        'podnet lab up --name big --nodes 12 --pods-per-node 4 --store etcd',
        'podnet lab up --name small -f profile.yaml --nodes 2',
        'podnet lab up --name fw --outbound-type userDefinedRouting',
      ),
    )
    .option('--name <name>', 'lab (cluster) name; prefixes every namespace', 'lab')
    .option(
      '--vnet <name>',
      'join (or create) this VNet; several clusters may share one (default: the lab name)',
    )
    .option('-f, --file <profile>', 'cluster profile (YAML/JSON); default: a two-pool profile on two subnets')
    .option('--nodes <n>', 'number of nodes, spread over the pools')
    .option('--pods-per-node <m>', 'pods to start on each node', '2')
    .option(
      '--outbound-type <type>',
      "loadBalancer|managedNATGateway|userDefinedRouting: the cluster's way out to the internet (default: the profile's)",
    )
    .option('--store <kind>', 'cluster store: sqlite or etcd (mutual TLS, a certificate per agent)', 'sqlite')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .action(async (o) => {
      const format = parseOutputFormat(o.output);
      // Ctrl-C leaves a half-built lab (everything is recorded): say how to remove it.
      const interrupted = () => {
        ctx.io.err(`lab: interrupted; ${selfCommand()} lab down --name ${o.name} removes what was made`);
        process.exit(130);
      };
      process.once('SIGINT', interrupted);
      await labUp({
        name: o.name,
        vnet: o.vnet,
        file: o.file,
        nodes: o.nodes === undefined ? undefined : wholeNumber(o.nodes, '--nodes'),
        podsPerNode: wholeNumber(o.podsPerNode, '--pods-per-node'),
        store: storeKind(o.store),
        ...(o.outboundType === undefined ? {} : { outboundType: outboundType(o.outboundType) }),
        progress: timed(),
      });
      process.off('SIGINT', interrupted);
      const s = await labStatus([o.name]);
      out(format, 'LabStatus', s, (wide) => renderStatus(s, wide));
      // What to try next is for a person: stderr, so stdout stays the data.
      if (!isData(format)) ctx.io.err(nextSteps(s, o.name));
    });

  lab
    .command('status')
    .description('nodes, blocks, pods and external hosts of the labs on this host')
    .addHelpText('after', examples('podnet lab status', 'podnet lab status --name demo -o json'))
    .option('--name <name>', 'only this lab')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .action(async (o) => {
      const format = parseOutputFormat(o.output);
      const names = o.name ? [o.name] : listLabs();
      for (const n of names) {
        if (readLab(n)?.phase === 'building') {
          ctx.io.err(
            `lab: ${n} is being built, or its lab up was interrupted (then: ${selfCommand()} lab down --name ${n})`,
          );
        }
      }
      const s = await labStatus(names);
      out(
        format,
        'LabStatus',
        s,
        names.length === 0
          ? 'no labs on this host (podnet lab up starts one)'
          : (wide) => renderStatus(s, wide),
      );
    });

  lab
    .command('check')
    .description('probe pod-to-pod, pod-to-outside (SNAT), outside-to-pod (refused) and node-to-pod for real')
    .addHelpText(
      'after',
      examples(
        'podnet lab check',
        "podnet lab check --test 'pod-pod,!cross-pool' --junit-file check.xml",
        "podnet lab check --test '^external-pod:' -o json",
      ),
    )
    .option('--name <name>', 'lab name (default: the only lab)')
    .option(
      '--test <pattern>',
      "only probes whose name (KIND:FROM->TO) matches; comma-separated regexps, '!' leaves out",
    )
    .option('--junit-file <file>', 'also write the results as JUnit XML')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .action(async (o) => {
      const format = parseOutputFormat(o.output);
      const name = resolveLabName(o.name);
      const timestamp = new Date().toISOString();
      const result = await labCheck(name, o.test === undefined ? {} : { test: o.test });
      if (o.junitFile !== undefined) {
        try {
          writeFileSync(o.junitFile, junitXml({ lab: name, timestamp, ...result }, renderTrace));
        } catch (e) {
          throw new PodnetError('ReportWriteFailed', `cannot write ${o.junitFile}: ${(e as Error).message}`, {
            field: '--junit-file',
            hint: 'give a path in a writable folder',
          });
        }
      }
      const probes = result.probes.map((p) => ({ name: probeName(p), ...p, failure: probeFailure(p) }));
      out(format, 'LabCheck', { ...result, probes }, (wide) => renderCheck(result, wide));
      ctx.exitCode = labCheckPassed(result) ? EXIT.ok : EXIT.problems;
    });

  lab
    .command('scale')
    .description("set a node pool's node count: new nodes lease new blocks, removed nodes release theirs")
    .addHelpText(
      'after',
      examples('podnet lab scale --pool user --count 2', 'podnet lab scale --name demo --pool sys --count 1'),
    )
    .requiredOption('--pool <pool>', 'node pool')
    .requiredOption('--count <n>', 'node count')
    .option('--name <name>', 'lab name (default: the only lab)')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .action(async (o) => {
      const format = parseOutputFormat(o.output);
      const name = resolveLabName(o.name);
      await labScale(name, o.pool, wholeNumber(o.count, '--count'), timed());
      const s = await labStatus([name]);
      out(format, 'LabStatus', s, (wide) => renderStatus(s, wide));
    });

  const pod = lab
    .command('pod')
    .description('add or delete a pod (through the CNI plugin, as a runtime does)')
    .addHelpText(
      'after',
      examples('podnet lab pod add --node demo-sys-0 --pod web', 'podnet lab pod del web'),
    );
  pod
    .command('add')
    .description('start a pod on a node')
    .addHelpText(
      'after',
      examples(
        'podnet lab pod add --node demo-sys-0',
        'podnet lab pod add --node demo-user-0 --pod web --namespace shop --labels app=web',
      ),
    )
    .requiredOption('--node <node>', 'node to run it on')
    .option('--pod <pod>', 'pod name (default: <node>-p<i>)')
    .option('--namespace <ns>', 'Kubernetes namespace of the pod', 'default')
    .option('--labels <k=v,...>', "the Pod object's labels, e.g. app=web,tier=front", '')
    .option('--name <name>', 'lab name (default: the only lab)')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .action(async (o) => {
      const format = parseOutputFormat(o.output);
      const labels = parseLabels(o.labels);
      const p = await labPodAdd(resolveLabName(o.name), o.node, {
        name: o.pod,
        namespace: o.namespace,
        labels,
      });
      const view = {
        name: p.name,
        namespace: p.namespace,
        node: p.node,
        ip: p.ip ?? null,
        netns: p.netns,
        labels: p.labels ?? {},
      };
      const shown =
        Object.entries(view.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '-';
      out(
        format,
        'LabPod',
        view,
        table(
          ['namespace', 'pod', 'node', 'ip', 'labels', 'netns'],
          [[p.namespace, p.name, p.node, p.ip ?? '-', shown, p.netns]],
        ),
      );
    });
  pod
    .command('del <pod>')
    .description('delete a pod (CNI DEL with its prevResult, then its namespace): NAME or NAMESPACE/NAME')
    .addHelpText('after', examples('podnet lab pod del web', 'podnet lab pod del shop/web --name demo'))
    .option('--name <name>', 'lab name (default: the only lab)')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .action(async (podName: string, o) => {
      const format = parseOutputFormat(o.output);
      await labPodDel(resolveLabName(o.name), podName);
      out(format, 'LabPodDeleted', { deleted: podName }, `pod ${podName} deleted`);
    });

  lab
    .command('exec <target> [cmd...]')
    .description('run a command in a pod, node or external host namespace: podnet lab exec POD -- CMD')
    .addHelpText(
      'after',
      examples('podnet lab exec sys-0-p0 -- ping -c 1 10.244.1.2', 'podnet lab exec demo-sys-0 -- ip route'),
    )
    .option('--name <name>', 'lab name (default: the only lab)')
    .action(async (target: string, cmd: string[], o) => {
      ctx.exitCode = await labExec(resolveLabName(o.name), target, cmd);
    });

  lab
    .command('update')
    .description('grow the pod CIDR live (a larger CIDR containing the current one)')
    .addHelpText('after', examples('podnet lab update --pod-cidr 10.244.0.0/15'))
    .requiredOption('--pod-cidr <cidr>', 'the new pod CIDR')
    .option('--name <name>', 'lab name (default: the only lab)')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .action(async (o) => {
      const format = parseOutputFormat(o.output);
      const name = resolveLabName(o.name);
      const state = await labUpdatePodCidr(name, o.podCidr, timed());
      out(
        format,
        'LabUpdate',
        { name, podCidrs: state.profile.network.podCidrs },
        `lab ${name}: pod CIDR ${state.profile.network.podCidrs.join(', ')}`,
      );
    });

  lab
    .command('restart')
    .description("restart a node's agent (e.g. after killing it) and wait until it is ready")
    .addHelpText('after', examples('podnet lab restart --node demo-sys-0'))
    .requiredOption('--node <node>', 'node')
    .option('--name <name>', 'lab name (default: the only lab)')
    .action(async (o) => {
      const node = await labRestartAgent(resolveLabName(o.name), o.node);
      ctx.io.out(`node ${node.name}: agent restarted (pid ${node.agentPid}) and ready`);
    });

  lab
    .command('down')
    .description('remove everything the lab made (also after a failed up), and only that')
    .addHelpText('after', examples('podnet lab down', 'podnet lab down --name demo -o json'))
    .option('--name <name>', 'lab name (default: the only lab)')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .action(async (o) => {
      const format = parseOutputFormat(o.output);
      const name = resolveLabName(o.name);
      const r = await labDown(name, timed());
      out(
        format,
        'LabDown',
        { name, ...r },
        r.removed.map((x) => `removed ${x}`).join('\n') || `lab ${name}: nothing was left`,
      );
    });

  lab
    .command('kubelet', { hidden: true })
    .description('the lab kubelet of one lab: runs the Pod objects bound to its nodes (started by lab up)')
    .requiredOption('--state <path>', 'lab state file')
    .action(async (o) => {
      await runKubelet(o.state);
    });

  lab
    .command('fabric', { hidden: true })
    .description('the VNet fabric router of one lab cluster (started by lab up)')
    .requiredOption('--state <path>', 'lab state file')
    .action(async (o) => {
      await labFabric(o.state);
    });
}
