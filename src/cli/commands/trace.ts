/**
 * `podnet trace`: would this packet get through, and why not? The objects come from files (a profile,
 * Kubernetes objects, Azure NSGs and NICs, in any order) or from the cluster's store; the decision is
 * src/trace's. Exit 0 whatever the verdict; 2 for unusable input.
 */
import type { Command } from 'commander';
import { PodnetError } from '../../errors/index.js';
import { labTraceWorld } from '../../lab/lab.js';
import { requireLab, resolveLabName } from '../../lab/state.js';
import { storeUrl } from '../../store/open.js';
import { type TraceFlow, type TraceResult, type TraceState, trace } from '../../trace/trace.js';
import { worldFromFiles, worldFromStore } from '../../trace/world.js';
import type { CliContext } from '../main.js';
import { OUTPUT_HELP, emit, parseOutputFormat, table } from '../output.js';

interface TraceOpts {
  filename: string[];
  store?: string;
  lab?: string;
  from?: string;
  to?: string;
  protocol?: string;
  port?: string;
  sourcePort?: string;
  endpoint?: string;
  state: string;
  output: string;
}

const EXAMPLES = `
Examples:
  podnet trace -f cluster.yaml -f pods.yaml -f policies.yaml --from shop/web --to shop/db --protocol TCP --port 5432
  podnet trace -f pods.yaml -f nsg.json --from 10.244.1.7 --to 10.244.2.9 --protocol UDP --port 53 -o json
  podnet trace --lab demo --from default/sys-0-p0 --to 203.0.113.10 --protocol TCP --port 80
  podnet trace -f objects/ --from shop/db --to shop/web --protocol TCP --port 5432 --state reply
  podnet trace --lab demo --from default/sys-0-p0 --to 10.0.12.7 --protocol TCP --port 80 --endpoint 10.244.1.2

The verdict walks every layer podnet has objects for: route, nat (SNAT to the node), NetworkPolicy (egress of
the source, ingress of the destination) and the NSGs the packet crosses. A flow to a Service's ClusterIP or
LoadBalancer frontend first takes the node proxy's DNAT; the rest is traced to every endpoint it may choose
(allowed only if each allows it), or to --endpoint's. A layer without objects is listed as not evaluated.
Exit 0 whatever the verdict; 2 for unusable input.`;

function usage(field: string, message: string, hint: string): PodnetError {
  return new PodnetError('TraceBadFlow', message, { field, hint });
}

function portFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535)
    throw usage(flag, `${flag} must be a port from 1 to 65535, got "${v}"`, `e.g. ${flag} 80`);
  return Number(v);
}

export function parseTraceFlow(o: TraceOpts): TraceFlow {
  if (!o.from) throw usage('--from', '--from is required', 'give NAMESPACE/POD or an IP address');
  if (!o.to) throw usage('--to', '--to is required', 'give NAMESPACE/POD or an IP address');
  const protocol = (o.protocol ?? '').toUpperCase();
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP' && protocol !== 'ICMP')
    throw usage(
      '--protocol',
      `--protocol must be TCP, UDP, SCTP or ICMP, got "${o.protocol ?? ''}"`,
      'e.g. --protocol TCP',
    );
  if (!['new', 'reply', 'established'].includes(o.state))
    throw usage(
      '--state',
      `--state must be new, reply or established, got "${o.state}"`,
      'new is a first packet; reply a packet back; established a connection admitted earlier',
    );
  const port = portFlag(o.port, '--port');
  if (protocol === 'ICMP' && port !== undefined)
    throw usage('--port', 'ICMP has no ports', 'leave out --port');
  const sourcePort = portFlag(o.sourcePort, '--source-port');
  return {
    from: o.from,
    to: o.to,
    protocol,
    state: o.state as TraceState,
    ...(port === undefined ? {} : { port }),
    ...(sourcePort === undefined ? {} : { sourcePort }),
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
  };
}

export function renderTrace(r: TraceResult): string {
  const rows = r.hops.map((h) => [
    h.verdict === 'info' ? '' : h.verdict.toUpperCase(),
    h.layer,
    h.at,
    h.detail,
  ]);
  const decided = r.decidedBy.map(
    (d) => `${d.layer}${d.object ? ` ${d.object}` : ''}${d.rule !== null ? ` ${d.rule}` : ''}`,
  );
  const service = r.service
    ? [
        '',
        `${r.service.service} port ${r.service.port}: ${r.service.why.join('; ')}`,
        table(
          ['verdict', 'endpoint', 'pod', 'via node', 'source'],
          r.service.endpoints.map((e) => [
            e.verdict.toUpperCase(),
            e.endpoint,
            e.pod,
            e.via,
            e.hairpin ? 'masqueraded (hairpin)' : e.masquerade ? 'masqueraded' : 'kept',
          ]),
        ),
      ]
    : [];
  return [
    table(['verdict', 'layer', 'at', 'what'], rows),
    ...service,
    '',
    `VERDICT: ${r.verdict.toUpperCase()} (source seen as ${r.sourceSeen})${decided.length ? `; decided by ${decided.join('; ')}` : ''}`,
    ...(r.notEvaluated.length ? [`not evaluated (no objects): ${r.notEvaluated.join(', ')}`] : []),
  ].join('\n');
}

export function registerTrace(program: Command, ctx: CliContext): void {
  program
    .command('trace')
    .description(
      'would this packet get through, and why not: route, SNAT, NetworkPolicy and NSGs, rule by rule',
    )
    .option(
      '-f, --filename <path>',
      'a profile, Kubernetes objects, NSGs or NICs: a file, a directory or - (repeatable)',
      (v, p: string[]) => [...p, v],
      [],
    )
    .option('--store <url>', 'take the objects from this cluster store')
    .option('--lab <name>', 'take the objects from the store of this lab')
    .option('--from <end>', 'the sender: NAMESPACE/POD or an IP address')
    .option('--to <end>', 'the receiver: NAMESPACE/POD or an IP address')
    .option('--protocol <p>', 'TCP, UDP, SCTP or ICMP')
    .option('--port <n>', 'destination port (not for ICMP)')
    .option('--source-port <n>', 'source port (NSG rules may match it; default 40000)')
    .option(
      '--endpoint <end>',
      'to a service: follow only this endpoint (IP, IP:PORT or NAMESPACE/POD) instead of every one',
    )
    .option(
      '--state <s>',
      'new, reply (a packet of a connection --to opened), established (admitted before the objects changed)',
      'new',
    )
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', EXAMPLES)
    .action(async (o: TraceOpts) => {
      const format = parseOutputFormat(o.output);
      const flow = parseTraceFlow(o);
      const sources = [o.filename.length > 0, o.store !== undefined, o.lab !== undefined].filter(
        Boolean,
      ).length;
      if (sources !== 1)
        throw new PodnetError(
          'UsageError',
          'give the objects with -f FILE..., --store URL or --lab NAME (one of them)',
          {
            field: '--filename',
            hint: 'podnet trace -f objects.yaml --from ns/a --to ns/b --protocol TCP --port 80',
          },
        );
      const world =
        o.filename.length > 0
          ? worldFromFiles(o.filename)
          : o.lab !== undefined
            ? await labTraceWorld(requireLab(resolveLabName(o.lab)))
            : await worldFromStore(storeUrl(o.store));
      const result = trace(world, flow);
      emit(ctx.io, format, 'TraceResult', result, () => renderTrace(result));
    });
}
