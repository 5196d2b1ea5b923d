/**
 * Execs a CNI plugin the way libcni does: CNI_* in the environment, the plugin config (with `name` and
 * `cniVersion` injected) on stdin, the result or error object on stdout.
 */
import { fileURLToPath } from 'node:url';
import { execInNetns } from '../../kernel/process.js';

/** `bin/podnet-cni` of this checkout (dist/src/cni/testing → repo root). */
export const SHIM_PATH = fileURLToPath(new URL('../../../../bin/podnet-cni', import.meta.url));

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
  /** The stdin JSON object (or raw text). */
  config: Record<string, unknown> | string;
  /** Extra or overriding environment (e.g. to remove a variable: `{CNI_NETNS: ''}`). */
  env?: Record<string, string>;
  /** The node's network namespace to exec the plugin in; omitted = this process's. */
  runIn?: string;
}

/**
 * Runs `plugin` (a path, or a command with arguments such as `[node, script]`), in `call.runIn`'s network
 * namespace when given (where a runtime on that node would exec it), else in this process's.
 */
export async function execPlugin(plugin: string | string[], call: PluginCall): Promise<PluginRun> {
  const argv = typeof plugin === 'string' ? [plugin] : plugin;
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
  const input = typeof call.config === 'string' ? call.config : JSON.stringify(call.config);
  const r = await execInNetns(call.runIn ?? null, argv, { env, input });
  let json: PluginRun['json'];
  try {
    json = r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}
