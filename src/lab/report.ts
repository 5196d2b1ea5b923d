/**
 * `lab check` as a connectivity suite (as `cilium connectivity test` is one): probes picked by name with
 * `--test`, each failure's reason, and the run as JUnit XML for CI. Pure: names, selection, reasons, XML.
 */
import { PodnetError } from '../errors/index.js';
import type { StatusProblem } from '../status/health.js';
import type { TraceResult } from '../trace/trace.js';
import type { OutboundCheck, PlannedProbe, ProbeKind, ProbeResult } from './check.js';

/** A probe's kind with its family: `pod-external`, and `pod-external-ipv6` for its IPv6 twin. */
export const probeKindLabel = (p: { kind: string; family?: 6 }) =>
  `${p.kind}${p.family === 6 ? '-ipv6' : ''}`;

/**
 * A probe's stable name, what `--test` matches: `KIND:FROM->TO`, e.g. `pod-external:pod/sys-0-p0->external/internet`
 * (`pod-external-ipv6:...` in IPv6).
 */
export const probeName = (p: {
  kind: string;
  family?: 6;
  from: string | { name: string };
  to: string | { name: string };
}) =>
  `${probeKindLabel(p)}:${typeof p.from === 'string' ? p.from : p.from.name}->${typeof p.to === 'string' ? p.to : p.to.name}`;

const MAX_PATTERN = 512;

/**
 * `--test` as Cilium takes it: comma-separated regular expressions matched against probe names; one starting
 * with `!` leaves out what it matches. A probe runs when it matches an including one (or there is none) and
 * no excluding one.
 */
export function parseTestPattern(pattern: string): { include: RegExp[]; exclude: RegExp[] } {
  const bad = (why: string) =>
    new PodnetError('InvalidTestPattern', `--test ${JSON.stringify(pattern.slice(0, 80))}: ${why}`, {
      field: '--test',
      hint: "comma-separated regular expressions over probe names, '!' to leave out: --test 'pod-pod,!cross-pool'",
    });
  if (pattern.length > MAX_PATTERN) throw bad(`longer than ${MAX_PATTERN} characters`);
  const include: RegExp[] = [];
  const exclude: RegExp[] = [];
  for (const raw of pattern.split(',')) {
    const term = raw.trim();
    const negated = term.startsWith('!');
    const body = negated ? term.slice(1) : term;
    if (body === '') throw bad('an empty term');
    let re: RegExp;
    try {
      re = new RegExp(body);
    } catch (e) {
      throw bad(`"${body.slice(0, 40)}" is not a regular expression (${(e as Error).message})`);
    }
    (negated ? exclude : include).push(re);
  }
  return { include, exclude };
}

export function selectProbes(probes: PlannedProbe[], pattern: string): PlannedProbe[] {
  const { include, exclude } = parseTestPattern(pattern);
  return probes.filter((p) => {
    const name = probeName(p);
    return (include.length === 0 || include.some((r) => r.test(name))) && !exclude.some((r) => r.test(name));
  });
}

/** What each kind of probe stands for: the promise of the overlay model it checks. */
const PROMISE: Record<ProbeKind, string> = {
  'pod-pod-same-node': 'pods on one node reach each other with their own addresses',
  'pod-pod-cross-node': 'pods reach pods on other nodes with their own addresses (no SNAT, no encapsulation)',
  'pod-pod-cross-pool': 'pods reach pods of other node pools and subnets with their own addresses',
  'node-pod': 'a node reaches pods on other nodes from its node IP',
  'pod-external': 'traffic leaving the pod CIDR is SNATed to the node IP',
  'external-pod': 'nothing outside the cluster reaches a pod address',
};

export type FailureKind = 'timeout' | 'refused' | 'unreachable' | 'wrong-source' | 'not-refused' | 'failed';

export interface ProbeFailure {
  kind: FailureKind;
  reason: string;
  /** What was expected, and why. */
  expected: string;
}

/** Why a probe did not go as expected; null when it did. */
export function probeFailure(r: ProbeResult): ProbeFailure | null {
  if (r.ok) return null;
  const expected =
    r.expect === 'allow'
      ? `allow, the receiver seeing source ${r.source ?? '?'}: ${PROMISE[r.kind]}`
      : `deny (refused or dropped): ${PROMISE[r.kind]}`;
  if (r.expect === 'deny') {
    return {
      kind: 'not-refused',
      reason: `connected, the receiver saw source ${r.sourceSeen ?? '(nothing reported)'}`,
      expected,
    };
  }
  if (r.connected) {
    return {
      kind: 'wrong-source',
      reason: `wrong source seen: ${r.sourceSeen ?? 'none reported'}, expected ${r.source ?? '?'}`,
      expected,
    };
  }
  const d = r.detail ?? '';
  const kind: FailureKind = /refused/i.test(d)
    ? 'refused'
    : /timed out|timeout/i.test(d) || d === ''
      ? 'timeout'
      : /unreachable|no route|prohibited/i.test(d)
        ? 'unreachable'
        : 'failed';
  const said = d === '' ? 'no answer within the connect timeout' : d;
  return { kind, reason: `${kind}: ${said}`, expected };
}

/** The outbound type's line: what the internet saw against what the plan expects. */
export function outboundLine(o: OutboundCheck): string {
  const publicIps = [o.publicIp, ...(o.publicIp6 ? [o.publicIp6] : [])];
  if (o.probes === 0)
    return `outbound ${o.type} (${publicIps.join(', ')}): not probed (no pod to the internet host)`;
  const right = o.seen.filter((s) => s !== null && publicIps.includes(s)).length;
  const wrong = [
    ...new Set(o.seen.filter((s) => s === null || !publicIps.includes(s)).map((s) => s ?? 'nothing')),
  ];
  return [
    `outbound ${o.type}: the internet saw ${publicIps.join(' and ')} on ${right}/${o.probes} probes`,
    wrong.length ? ` (FAILED: it saw ${wrong.join(', ')})` : '',
    o.logged === undefined
      ? ''
      : `; the firewall logged ${o.logged}/${o.probes}${o.logged < o.probes ? ' FAILED' : ''}`,
  ].join('');
}

/** XML 1.0 text: escaped, and without the control characters XML cannot carry. */
function xml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export interface JunitInput {
  lab: string;
  probes: ProbeResult[];
  outbound?: OutboundCheck;
  ipam: { node: string; findings: { code: string; subject: string; message: string }[] }[];
  agents: { node: string; problems: StatusProblem[] }[];
  timestamp: string;
}

interface Case {
  classname: string;
  name: string;
  time: number;
  failure?: { type: string; message: string; body: string };
}

function suite(name: string, cases: Case[], timestamp: string): string {
  const failures = cases.filter((c) => c.failure).length;
  const time = cases.reduce((t, c) => t + c.time, 0);
  const body = cases.map((c) => {
    const head = `    <testcase classname="${xml(c.classname)}" name="${xml(c.name)}" time="${c.time.toFixed(3)}"`;
    if (!c.failure) return `${head}/>`;
    const f = c.failure;
    return `${head}>\n      <failure type="${xml(f.type)}" message="${xml(f.message)}">${xml(f.body)}</failure>\n    </testcase>`;
  });
  return [
    `  <testsuite name="${xml(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${time.toFixed(3)}" timestamp="${xml(timestamp)}">`,
    ...body,
    '  </testsuite>',
  ].join('\n');
}

/**
 * The run as JUnit XML (the Ant/Surefire schema CI systems read): one suite each for probes, IPAM, agents.
 * `traceText` renders a failed probe's trace into its failure body, as the text output shows it (the CLI passes
 * `podnet trace`'s own renderer), so a CI report says why the probe was expected to pass.
 */
export function junitXml(r: JunitInput, traceText?: (t: TraceResult) => string): string {
  const probes: Case[] = r.probes.map((p) => {
    const f = probeFailure(p);
    const trace = p.trace && traceText ? `\n\nthe trace of what was expected:\n${traceText(p.trace)}` : '';
    return {
      classname: `podnet.lab.${p.kind}`,
      name: probeName(p),
      time: p.durationSeconds,
      ...(f ? { failure: { type: f.kind, message: f.reason, body: `expected: ${f.expected}${trace}` } } : {}),
    };
  });
  if (r.outbound && r.outbound.probes > 0) {
    const o = r.outbound;
    probes.push({
      classname: 'podnet.lab.outbound',
      name: `outbound:${o.type}`,
      time: 0,
      ...(o.ok
        ? {}
        : {
            failure: {
              type: 'wrong-outbound',
              message: outboundLine(o),
              body: `expected: every pod's connection to the internet host from ${o.publicIp}, the ${o.type} outbound address${o.logged === undefined ? '' : ', each in the firewall log'}`,
            },
          }),
    });
  }
  const ipam: Case[] = r.ipam.map((n) => ({
    classname: 'podnet.lab.ipam-check',
    name: `ipam-check:node/${n.node}`,
    time: 0,
    ...(n.findings.length
      ? {
          failure: {
            type: n.findings[0].code,
            message: n.findings.map((f) => `${f.code} ${f.subject}`).join(', '),
            body: n.findings.map((f) => `${f.code} ${f.subject}: ${f.message}`).join('\n'),
          },
        }
      : {}),
  }));
  const agents: Case[] = r.agents.map((a) => ({
    classname: 'podnet.lab.agent',
    name: `agent:node/${a.node}`,
    time: 0,
    ...(a.problems.length
      ? {
          failure: {
            type: a.problems[0].code,
            message: a.problems.map((p) => `${p.code}: ${p.message}`).join('; '),
            body: a.problems.map((p) => `${p.code}: ${p.message}\nhint: ${p.hint}`).join('\n'),
          },
        }
      : {}),
  }));
  const all = [...probes, ...ipam, ...agents];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="podnet lab check ${xml(r.lab)}" tests="${all.length}" failures="${all.filter((c) => c.failure).length}">`,
    suite(`${r.lab}: probes`, probes, r.timestamp),
    suite(`${r.lab}: ipam check`, ipam, r.timestamp),
    suite(`${r.lab}: agents`, agents, r.timestamp),
    '</testsuites>',
    '',
  ].join('\n');
}
