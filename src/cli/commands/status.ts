/**
 * `podnet status [--store URL | --lab NAME] [--wait [--timeout D]] [-o table|json|yaml]`: the pod network's
 * health as the cluster store tells it (src/status), as `cilium status` does for Cilium. Exit 0 healthy,
 * 1 degraded (also when `--wait` timed out), 3 store unreachable.
 */
import type { Command } from 'commander';
import { PodnetError } from '../../errors/index.js';
import { requireLab, resolveLabName } from '../../lab/state.js';
import { readStatusInput } from '../../status/gather.js';
import { type ClusterStatus, assessStatus } from '../../status/health.js';
import { openStore, storeUrl } from '../../store/open.js';
import type { CliContext } from '../main.js';
import { EXIT, OUTPUT_HELP, emit, parseOutputFormat, table } from '../output.js';
import { STORE_FLAG_HELP } from './cluster.js';

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** A duration as `90`, `30s`, `5m`, `1h30m` or `500ms`, in seconds; at most a day. */
export function parseDuration(v: string, field: string): number {
  const text = v.trim();
  const parts = /^\d+$/.test(text) ? [[text, text, 's']] : [...text.matchAll(/(\d+)(ms|s|m|h)/g)];
  const whole = parts.map((p) => p[0]).join('');
  const total = parts.reduce((t, p) => t + Number(p[1]) * UNITS[p[2]], 0);
  if (text === '' || whole !== text || !Number.isFinite(total) || total <= 0 || total > 86_400) {
    throw new PodnetError(
      'InvalidDuration',
      `${field} must be a duration like 30s, 5m or 1h, got "${v.slice(0, 40)}"`,
      {
        field,
        hint: `e.g. ${field} 2m (at most 24h)`,
      },
    );
  }
  return total;
}

function ago(s: number | null): string {
  if (s === null) return '-';
  return `${human(s)} ago`;
}

function human(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export function renderStatusTable(s: ClusterStatus): string {
  const b = s.podCidr.blocks;
  const rows = s.nodes.map((n) => {
    const a = n.agent;
    const drift = Object.values(a.drift).reduce((x, y) => x + y, 0);
    return [
      n.name,
      n.ip ?? '-',
      n.pool ?? '-',
      n.block ?? '-',
      n.lease === null
        ? 'none'
        : n.lease.expiresInSeconds === null
          ? 'never'
          : human(Math.max(0, n.lease.expiresInSeconds)),
      a.state === 'none' ? 'none' : a.state === 'silent' ? 'silent' : a.ready ? 'ready' : 'not ready',
      ago(a.heartbeatAgeSeconds),
      a.lastReconcile ? a.lastReconcile.result : '-',
      String(drift),
      a.generation === null ? '-' : String(a.generation),
      n.pods === null ? '-' : `${n.pods}/${n.maxPods}`,
      String(n.endpoints),
      a.ipamProblems.length === 0 ? (a.state === 'none' ? '-' : 'ok') : `${a.ipamProblems.length} problems`,
    ];
  });
  const bad = s.nodes.filter((n) => !n.healthy).length;
  return [
    `store      ${s.store.url}: cluster ${s.store.cluster}, generation ${s.store.generation}`,
    `pod CIDR   ${s.podCidr.cidrs.join(', ')}: ${b.leased}/${b.total} /${s.podCidr.blockPrefix} blocks leased, ${b.quarantined} quarantined, ${b.free} free`,
    '',
    table(
      [
        'node',
        'ip',
        'pool',
        'block',
        'lease',
        'agent',
        'heartbeat',
        'reconcile',
        'drift',
        'gen',
        'pods',
        'endpoints',
        'ipam',
      ],
      rows,
    ),
    '',
    s.healthy
      ? `healthy: ${s.nodes.length}/${s.nodes.length} nodes`
      : `DEGRADED: ${bad}/${s.nodes.length} nodes with problems`,
    ...s.problems.flatMap((p) => [`  ${p.node}: ${p.code}: ${p.message}`, `    hint: ${p.hint}`]),
  ].join('\n');
}

/** Reads the status once from a store URL (`expectedNodes`: a lab's nodes). */
export async function readStatus(url: string, expectedNodes?: string[]): Promise<ClusterStatus> {
  const store = await openStore(url, { create: false });
  try {
    return assessStatus(await readStatusInput(store, expectedNodes), Date.now());
  } finally {
    await store.close();
  }
}

interface StatusOpts {
  store?: string;
  lab?: string;
  wait?: boolean;
  timeout: string;
  output: string;
}

const POLL_MS = 2000;

export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description(
      "the pod network's health from the cluster store: every node's lease and agent, pods, the pod CIDR's use",
    )
    .option('--store <url>', STORE_FLAG_HELP)
    .option('--lab <name>', "a lab's store, and the nodes that lab runs")
    .option('--wait', 'wait until healthy (or the timeout)')
    .option('--timeout <duration>', 'how long --wait waits', '5m')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText(
      'after',
      `
Degraded (exit 1) when an agent is silent, a block lease is near expiry, a reconcile fails, a node's kernel
drifted in the last 5 minutes, an agent's IPAM audit found problems, or an agent runs an old profile.
Exit 3: the store cannot be reached.

Examples:
  podnet status --store etcd:http://10.0.0.5:2379
  podnet status --lab demo -o json
  podnet status --lab demo --wait --timeout 2m`,
    )
    .action(async (o: StatusOpts) => {
      const format = parseOutputFormat(o.output);
      if (o.store !== undefined && o.lab !== undefined) {
        throw new PodnetError('UsageError', '--store and --lab exclude each other', {
          field: '--lab',
          hint: 'a lab names its own store: give one of them',
        });
      }
      const timeoutS = parseDuration(o.timeout, '--timeout');
      let url = storeUrl(o.store);
      let expected: string[] | undefined;
      if (o.lab !== undefined) {
        const state = requireLab(resolveLabName(o.lab));
        url = state.store.url;
        expected = state.nodes.map((n) => n.name);
      }
      const deadline = Date.now() + timeoutS * 1000;
      let status = await readStatus(url, expected).catch((e) => {
        if (!o.wait) throw e;
        return e as Error;
      });
      while (o.wait && (status instanceof Error || !status.healthy) && Date.now() < deadline) {
        const why = status instanceof Error ? status.message : `${status.problems.length} problems`;
        ctx.io.err(`status: not healthy yet (${why}); ${Math.ceil((deadline - Date.now()) / 1000)} s left`);
        await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
        status = await readStatus(url, expected).catch((e) => e as Error);
      }
      if (status instanceof Error) throw status;
      if (o.wait && !status.healthy) ctx.io.err(`status: still degraded after ${o.timeout}`);
      emit(ctx.io, format, 'Status', status, () => renderStatusTable(status));
      ctx.exitCode = status.healthy ? EXIT.ok : EXIT.problems;
    });
}
