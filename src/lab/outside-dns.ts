/**
 * The lab's outside DNS: a resolver on the VNet's internet host for the names of the outside world
 * (`src/dns/outside.ts`), the upstream every node's cluster DNS relays non-cluster names to, as the internet's
 * resolvers are for AKS's CoreDNS. One per VNet (the internet host is the VNet's, shared by its clusters):
 * started when a lab builds or joins the VNet and none runs, its pid kept in the VNet's state, stopped when
 * the VNet goes. Its command line names the VNet's state file, which marks the process as the VNet's.
 *
 * Run as `node outside-dns.js VNET_STATE_FILE` inside the internet host's namespace: it reads the hosts from
 * the state (again when the state changes) and serves them on the internet host's address, port 53, UDP and
 * TCP, until SIGTERM.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { outsideRecords } from '../dns/outside.js';
import { DnsServer } from '../dns/server.js';
import { spawnDaemon } from '../kernel/process.js';
import type { Vnet, VnetExternalHost } from '../vnet/model.js';
import { LAB_ROOT, vnetStatePath } from './names.js';
import { findProcesses, isOurs, stopProcess } from './processes.js';
import { writeVnet } from './state.js';

export const OUTSIDE_DNS_PORT = 53;

/** The internet host the outside resolver runs on. */
export const internetHost = (vnet: Vnet): VnetExternalHost | undefined =>
  vnet.externalHosts.find((h) => h.kind === 'internet');

/** Where the nodes' cluster DNS sends names outside the cluster: `IP:53` of the internet host. */
export function outsideDnsAddress(vnet: Vnet): string | null {
  const h = internetHost(vnet);
  return h ? `${h.ip}:${OUTSIDE_DNS_PORT}` : null;
}

/** Starts the VNet's resolver unless its recorded one still runs; records the pid in `vnet` (and its state). */
export function ensureOutsideDns(vnet: Vnet): void {
  const marker = vnetStatePath(vnet.name);
  const host = internetHost(vnet);
  if (!host || (vnet.outsideDnsPid !== undefined && isOurs(vnet.outsideDnsPid, marker))) return;
  const script = fileURLToPath(import.meta.url);
  vnet.outsideDnsPid = spawnDaemon([process.execPath, script, marker], {
    logFile: outsideDnsLog(vnet),
    netns: host.netns,
  });
  writeVnet(vnet);
}

/** Stops the VNet's resolver: the recorded pid, and any other naming the VNet's state (a crashed `up`'s). */
export async function stopOutsideDns(vnet: Vnet): Promise<void> {
  const marker = vnetStatePath(vnet.name);
  if (vnet.outsideDnsPid !== undefined) await stopProcess(vnet.outsideDnsPid, marker);
  for (const pid of findProcesses(marker)) await stopProcess(pid, marker);
  rmSync(outsideDnsLog(vnet), { force: true });
}

const outsideDnsLog = (vnet: Vnet) => join(LAB_ROOT, `outside-dns-${vnet.name}.log`);

async function main(stateFile: string): Promise<void> {
  const read = () => JSON.parse(readFileSync(stateFile, 'utf8')) as Vnet;
  const vnet = read();
  const host = internetHost(vnet);
  // The hosts again whenever the VNet state changed: a cluster joining later may bring connected networks.
  let seen = statSync(stateFile).mtimeMs;
  let current = outsideRecords(vnet.externalHosts);
  const records = () => {
    const m = statSync(stateFile, { throwIfNoEntry: false })?.mtimeMs ?? seen;
    if (m !== seen) {
      try {
        current = outsideRecords(read().externalHosts);
        seen = m;
      } catch {
        // Caught mid-write: keep the hosts known so far, read again at the next query.
      }
    }
    return current;
  };
  if (!host) throw new Error(`VNet ${vnet.name} has no internet host`);
  const server = new DnsServer({
    host: host.ip,
    port: OUTSIDE_DNS_PORT,
    resolve: (name, type) => records()(name, type),
  });
  await server.start();
  process.stderr.write(`${new Date().toISOString()} outside DNS on ${host.ip}:${OUTSIDE_DNS_PORT}\n`);
  process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv[2] ?? '').catch((e) => {
    process.stderr.write(`outside DNS: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
