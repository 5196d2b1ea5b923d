/**
 * The CNI protocol as pure functions: which command, which environment it needs, the network config on
 * stdin, and results/errors rendered in the version the runtime asked for. No I/O here, so every rule of the
 * spec (codes 1, 4, 6, 7) is unit-tested and fuzzed.
 */
import { ownerAliasFits } from '../dataplane/pod-network.js';
import { CNI_CODE, type CniEnv, CniError, type CniResult } from './types.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
/** Version used for an error when the request never said which version it speaks. */
const FALLBACK_VERSION = '1.1.0';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';
const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'];

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function parseCommand(env: CniEnv): CniCommand {
  const c = env.CNI_COMMAND ?? '';
  if ((COMMANDS as readonly string[]).includes(c)) return c as CniCommand;
  throw new CniError(
    CNI_CODE.invalidEnvironment,
    c === '' ? 'required env variables [CNI_COMMAND] missing' : `unknown CNI_COMMAND "${c.slice(0, 32)}"`,
    `CNI_COMMAND must be one of ${COMMANDS.join(', ')}`,
  );
}

/** One attachment the runtime still considers valid (GC input). */
export interface GcAttachment {
  containerId: string;
  ifname: string;
}

/** The per-plugin request config (the plugin object with `cniVersion` and `name` injected). */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  prevResult?: unknown;
  /** GC only: attachments to keep (`cni.dev/valid-attachments`, or the legacy `cni.dev/attachments`). */
  validAttachments?: GcAttachment[];
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The `cniVersion` of a stdin text if it has a usable one, for rendering errors in the asked version. */
export function askedVersion(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    if (typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v)) return v;
  } catch {
    // undecodable: the error is reported by parseConfig
  }
  return FALLBACK_VERSION;
}

/** The minimum config version each command exists in (CHECK since 0.4.0; GC and STATUS since 1.1.0). */
const MIN_VERSION: Partial<Record<CniCommand, string>> = { CHECK: '0.4.0', GC: '1.1.0', STATUS: '1.1.0' };

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * stdin as text: it must be UTF-8 (JSON is), so bytes that are not are refused as undecodable (code 6) instead
 * of being replaced with U+FFFD and read as something the runtime never sent. A NUL byte is refused too: JSON
 * allows none (RFC 8259 §7: control characters are escaped), and C-string readers would cut the text there.
 */
export function decodeStdin(bytes: Uint8Array): string {
  if (bytes.includes(0)) {
    throw new CniError(
      CNI_CODE.decodingFailure,
      'failed to decode the network config on stdin',
      'stdin holds a NUL byte',
    );
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new CniError(
      CNI_CODE.decodingFailure,
      'failed to decode the network config on stdin',
      'stdin is not UTF-8',
    );
  }
}

/** Parses and validates stdin for `command`; failures are CniErrors with the spec's codes 1, 6 or 7. */
export function parseConfig(stdin: string, command: CniCommand): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(
      CNI_CODE.decodingFailure,
      'failed to decode the network config on stdin',
      e instanceof Error ? e.message : String(e),
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CniError(CNI_CODE.decodingFailure, 'the network config on stdin must be a JSON object');
  }
  const o = raw as Record<string, unknown>;
  const v = o.cniVersion;
  if (typeof v !== 'string' || v === '') {
    throw new CniError(CNI_CODE.invalidConfig, 'the network config has no "cniVersion" string');
  }
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(
      CNI_CODE.incompatibleVersion,
      'incompatible CNI versions',
      `config is "${v.slice(0, 32)}", plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`,
    );
  }
  const min = MIN_VERSION[command];
  if (min && compareVersions(v, min) < 0) {
    throw new CniError(
      CNI_CODE.incompatibleVersion,
      'incompatible CNI versions',
      `config version "${v}" does not support ${command} (needs ${min} or later)`,
    );
  }
  if (command === 'VERSION') return { cniVersion: v, name: '', type: '' };
  if (typeof o.name !== 'string' || !NAME.test(o.name)) {
    throw new CniError(
      CNI_CODE.invalidConfig,
      'invalid network config: "name" must start with a letter or digit, then letters, digits, "_", "." or "-"',
      `name is ${JSON.stringify(o.name)?.slice(0, 64)}`,
    );
  }
  if (o.type !== undefined && typeof o.type !== 'string') {
    throw new CniError(CNI_CODE.invalidConfig, 'invalid network config: "type" must be a string');
  }
  if (o.agentSocket !== undefined && typeof o.agentSocket !== 'string') {
    throw new CniError(CNI_CODE.invalidConfig, 'invalid network config: "agentSocket" must be a path string');
  }
  const conf: NetConf = { cniVersion: v, name: o.name, type: (o.type as string | undefined) ?? '' };
  if (o.prevResult !== undefined && o.prevResult !== null) conf.prevResult = o.prevResult;
  if (command === 'GC') conf.validAttachments = parseAttachments(o);
  return conf;
}

function parseAttachments(o: Record<string, unknown>): GcAttachment[] {
  const key =
    o['cni.dev/valid-attachments'] !== undefined ? 'cni.dev/valid-attachments' : 'cni.dev/attachments';
  const list = o[key];
  // Absent means the runtime knows no valid attachment (Go runtimes omit an empty list).
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list))
    throw new CniError(CNI_CODE.invalidConfig, `invalid network config: "${key}" must be a list`);
  return list.map((a, i) => {
    const item = a as { containerID?: unknown; ifname?: unknown } | null;
    if (
      typeof item !== 'object' ||
      item === null ||
      typeof item.containerID !== 'string' ||
      typeof item.ifname !== 'string'
    ) {
      throw new CniError(
        CNI_CODE.invalidConfig,
        `invalid network config: "${key}"[${i}] must be {"containerID": string, "ifname": string}`,
      );
    }
    return { containerId: item.containerID, ifname: item.ifname };
  });
}

/** Which CNI_* variables each command needs (spec §2; CNI_PATH is optional for us: we delegate nothing). */
const REQUIRED_ENV: Record<CniCommand, string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  VERSION: [],
  GC: [],
  STATUS: [],
};

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/**
 * Interface names: 1-15 bytes, as Linux requires, from letters, digits, "_", "." and "-" only (not "." or "..").
 * Linux also allows "#", quotes and the like, but the name goes into `ip -batch` lines, whose parser reads a
 * token starting with "#" as a comment and quotes as quoting: such a name would fail in the kernel step, or
 * worse, instead of being refused here. Runtimes name pods' interfaces eth0, eth1, net1.
 */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
/** An absolute path with no whitespace, control characters, quotes, "#" or "\\", for the same reason. */
const NETNS_PATH = /^\/[^\s\x00-\x1f\x7f"'#\\]*$/;

export interface Attachment {
  containerId: string;
  ifname: string;
  /** Empty on a DEL whose namespace is already gone. */
  netns: string;
  args: string;
}

/** Checks the environment for `command`; code 4 names every missing or malformed variable. */
export function parseEnv(env: CniEnv, command: CniCommand): Attachment {
  const missing = REQUIRED_ENV[command].filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new CniError(CNI_CODE.invalidEnvironment, `required env variables [${missing.join(',')}] missing`);
  }
  const att: Attachment = {
    containerId: env.CNI_CONTAINERID ?? '',
    ifname: env.CNI_IFNAME ?? '',
    netns: env.CNI_NETNS ?? '',
    args: env.CNI_ARGS ?? '',
  };
  if (REQUIRED_ENV[command].length === 0) return att;
  const bad: string[] = [];
  // The host veth's alias records the attachment; an id too long for it would fail in the kernel instead.
  if (!CONTAINER_ID.test(att.containerId) || !ownerAliasFits(att.containerId, att.ifname))
    bad.push('CNI_CONTAINERID');
  if (!IFNAME.test(att.ifname) || att.ifname === '.' || att.ifname === '..') bad.push('CNI_IFNAME');
  if (att.netns !== '' && !NETNS_PATH.test(att.netns)) bad.push('CNI_NETNS');
  if (bad.length > 0) {
    throw new CniError(
      CNI_CODE.invalidEnvironment,
      `invalid env variables [${bad.join(',')}]`,
      'CNI_CONTAINERID starts with a letter or digit then letters, digits, "_", "." or "-" (at most 247 bytes with CNI_IFNAME); CNI_IFNAME is 1-15 letters, digits, "_", "." or "-"; CNI_NETNS is an absolute path without spaces, quotes, "#" or "\\"',
    );
  }
  return att;
}

/** `K=V;K=V` from CNI_ARGS (unknown keys are ignored, as podman's `IgnoreUnknown=1` asks). */
export function parseCniArgs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of args.split(';')) {
    const i = pair.indexOf('=');
    if (i > 0) out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/** Renders a Success result in `version`: 0.3.x/0.4.0 IPs carry `version`, only 1.1.0 has interface `mtu`. */
export function renderResult(result: Omit<CniResult, 'cniVersion'>, version: string): string {
  const legacy = compareVersions(version, '1.0.0') < 0;
  const withMtu = compareVersions(version, '1.1.0') >= 0;
  return JSON.stringify({
    cniVersion: version,
    interfaces: result.interfaces.map(({ mtu, ...i }) => (withMtu && mtu !== undefined ? { ...i, mtu } : i)),
    ips: result.ips.map((ip) => (legacy ? { version: ip.address.includes(':') ? '6' : '4', ...ip } : ip)),
    routes: result.routes,
    dns: result.dns,
  });
}

export function renderError(err: CniError, version: string): string {
  return JSON.stringify({
    cniVersion: version,
    code: err.code,
    msg: err.msg,
    ...(err.details === undefined ? {} : { details: err.details }),
  });
}

export function renderVersion(version: string): string {
  return JSON.stringify({ cniVersion: version, supportedVersions: SUPPORTED_VERSIONS });
}
