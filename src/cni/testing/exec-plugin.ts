/**
 * Execs a CNI plugin the way libcni does: CNI_* in the environment, the plugin config (with `name` and
 * `cniVersion` injected) on stdin, the result or error object on stdout.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
}

/** Runs `plugin` (a path, or a command with arguments such as `[node, script]`). */
export function execPlugin(plugin: string | string[], call: PluginCall): Promise<PluginRun> {
  const [file, ...argv] = typeof plugin === 'string' ? [plugin] : plugin;
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
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString();
      let json: PluginRun['json'];
      try {
        json = stdout.trim() === '' ? undefined : JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ stdout, stderr: Buffer.concat(err).toString(), code: code ?? 1, json });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(typeof call.config === 'string' ? call.config : JSON.stringify(call.config));
  });
}
