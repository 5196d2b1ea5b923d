/**
 * Execs a CNI plugin the way libcni does: CNI_* in the environment, the plugin config (with `name` and
 * `cniVersion` injected) on stdin, the result or error object on stdout.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execInNetns } from '../../kernel/process.js';
import { renderShim } from '../install.js';

/** `bin/podnet-cni` of this checkout (dist/src/cni/testing → repo root), for the default socket. */
export const SHIM_PATH = fileURLToPath(new URL('../../../../bin/podnet-cni', import.meta.url));

let shimDir: string | undefined;
const shims = new Map<string, string>();

/**
 * The shim as `podnet install-cni --socket SOCKET` installs it (the socket is written into the copy), in a
 * folder of this process that goes when it exits.
 */
export function shimFor(socket: string): string {
  let path = shims.get(socket);
  if (path) return path;
  if (!shimDir) {
    const dir = mkdtempSync(join(tmpdir(), 'podnet-shim-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    shimDir = dir;
  }
  path = join(shimDir, `podnet-cni-${shims.size}`);
  writeFileSync(path, renderShim(socket), { mode: 0o755 });
  shims.set(socket, path);
  return path;
}

export interface PluginRun {
  stdout: string;
  stderr: string;
  code: number;
  /** stdout parsed as JSON, or undefined when empty. */
  json?: Record<string, unknown> & { code?: number; msg?: string };
}

export interface PluginCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  path?: string;
  /** The stdin JSON object (or raw text, or raw bytes). */
  config: Record<string, unknown> | string | Uint8Array;
  /** Extra or overriding environment (e.g. to remove a variable: `{CNI_NETNS: ''}`). */
  env?: Record<string, string>;
  /** The node's network namespace to exec the plugin in; omitted = this process's. */
  runIn?: string;
}

/**
 * SHIM_PATH with a config object naming an `agentSocket` means the shim as installed for that socket: tests
 * name each node's socket that way, and install-cni writes it into the installed copy (the shim itself never
 * reads the config).
 */
function installedFor(plugin: string, config: PluginCall['config']): string {
  const socket =
    typeof config === 'object' && !(config instanceof Uint8Array) ? config.agentSocket : undefined;
  return plugin === SHIM_PATH && typeof socket === 'string' ? shimFor(socket) : plugin;
}

/**
 * Runs `plugin` (a path, or a command with arguments such as `[node, script]`), in `call.runIn`'s network
 * namespace when given (where a runtime on that node would exec it), else in this process's.
 */
export async function execPlugin(plugin: string | string[], call: PluginCall): Promise<PluginRun> {
  const argv = typeof plugin === 'string' ? [installedFor(plugin, call.config)] : plugin;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId ?? '',
    CNI_NETNS: call.netns ?? '',
    CNI_IFNAME: call.ifname ?? 'eth0',
    CNI_ARGS: call.args ?? '',
    CNI_PATH: call.path ?? '/usr/lib/cni',
    ...call.env,
  };
  const input =
    typeof call.config === 'string' || call.config instanceof Uint8Array
      ? call.config
      : JSON.stringify(call.config);
  const r = await execInNetns(call.runIn ?? null, argv, { env, input });
  let json: PluginRun['json'];
  try {
    json = r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}
