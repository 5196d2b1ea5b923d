/**
 * `podnet install-cni`: puts the shim where the runtime looks for plugins and a conflist where it looks for
 * networks. Idempotent (unchanged files are not rewritten) and atomic (write a temp file, then rename), so a
 * runtime never reads half a conflist or execs half a plugin.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PodnetError } from '../errors/index.js';

export const DEFAULT_AGENT_SOCKET = '/run/podnet/agent.sock';
export const PLUGIN_TYPE = 'podnet-cni';
/** The shim of this installation (dist/src/cni → repo root/bin). */
const SHIM_SOURCE = fileURLToPath(new URL('../../../bin/podnet-cni', import.meta.url));

export interface InstallCniOptions {
  binDir: string;
  confDir: string;
  socket: string;
  name: string;
  confFile: string;
}

export interface InstallCniResult {
  plugin: string;
  conflist: string;
  /** Files written this time; empty when everything was already in place. */
  changed: string[];
}

/**
 * The conflist: 1.0.0 for runtimes on libcni < 1.2 (podman 4.3 cannot parse 1.1.0 results), `cniVersions` so
 * newer runtimes pick 1.1.0 and get GC and STATUS. No socket: the installed shim holds it (renderShim).
 */
export function renderConflist(name: string): string {
  const conf = {
    cniVersion: '1.0.0',
    cniVersions: ['1.0.0', '1.1.0'],
    name,
    plugins: [{ type: PLUGIN_TYPE }],
  };
  return `${JSON.stringify(conf, null, 2)}\n`;
}

/** The line of bin/podnet-cni that names the agent socket. */
const SOCKET_LINE = /^sock='[^'\n]*'( # podnet-cni: agent socket .*)$/m;

/**
 * The shim as installed for `socket`: the shim streams stdin without parsing it, so the socket cannot come from
 * the config; it is written into the copy (a single-quoted sh word: validateInstallOptions allows no quote).
 */
export function renderShim(socket: string): string {
  const source = readFileSync(SHIM_SOURCE, 'utf8');
  if (!SOCKET_LINE.test(source)) throw new Error(`${SHIM_SOURCE} has no agent socket line`);
  return source.replace(SOCKET_LINE, (_, comment: string) => `sock='${socket}'${comment}`);
}

export function validateInstallOptions(o: InstallCniOptions): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(o.name)) {
    throw new PodnetError(
      'InvalidCniNetworkName',
      `network name "${o.name}" is not a valid CNI network name`,
      {
        field: '--name',
        hint: 'start with a letter or digit, then letters, digits, "_", "." or "-" (e.g. podnet)',
      },
    );
  }
  if (!isAbsolute(o.socket) || /["'\\\s\x00-\x1f\x7f]/.test(o.socket)) {
    throw new PodnetError(
      'InvalidAgentSocket',
      `agent socket "${o.socket}" must be an absolute path without quotes or spaces`,
      {
        field: '--socket',
        hint: `use the path the agent listens on, e.g. ${DEFAULT_AGENT_SOCKET}`,
      },
    );
  }
  if (!o.confFile.endsWith('.conflist') || o.confFile.includes('/')) {
    throw new PodnetError(
      'InvalidConfFile',
      `conf file "${o.confFile}" must be a file name ending in .conflist`,
      {
        field: '--conf-file',
        hint: 'runtimes only read *.conflist files from the conf dir; e.g. 10-podnet.conflist',
      },
    );
  }
}

function writeIfChanged(path: string, content: string, mode: number): boolean {
  if (existsSync(path) && readFileSync(path, 'utf8') === content) {
    chmodSync(path, mode);
    return false;
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
  return true;
}

export function installCni(o: InstallCniOptions): InstallCniResult {
  validateInstallOptions(o);
  const plugin = join(o.binDir, PLUGIN_TYPE);
  const conflist = join(o.confDir, o.confFile);
  const changed: string[] = [];
  try {
    mkdirSync(o.binDir, { recursive: true });
    mkdirSync(o.confDir, { recursive: true });
    if (writeIfChanged(plugin, renderShim(o.socket), 0o755)) changed.push(plugin);
    if (writeIfChanged(conflist, renderConflist(o.name), 0o644)) changed.push(conflist);
  } catch (e) {
    throw new PodnetError('CniInstallFailed', `cannot install the CNI plugin: ${(e as Error).message}`, {
      field: (e as NodeJS.ErrnoException).path?.startsWith(o.confDir) ? '--conf-dir' : '--bin-dir',
      hint: 'run as root, or choose directories you can write',
      cause: e,
    });
  }
  return { plugin, conflist, changed };
}
