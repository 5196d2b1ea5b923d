/**
 * `lab up --store etcd`: the lab's own single-member etcd, stopped by `lab down`. It runs in the VNet
 * namespace, as a control plane reached over the VNet: agents (which live in their node namespaces, where
 * 127.0.0.1 is the node's own loopback) reach it at their subnet gateway's address. Lab commands and the
 * fabric router, which run in the host namespace, reach it at 127.0.0.1 through a small relay to etcd's
 * unix socket (a file, hence visible from every namespace). No address outside lab namespaces is used.
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnDaemon } from '../kernel/process.js';
import { unixGet, waitFor } from './processes.js';

/** A loopback port that is free right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface LabEtcd {
  dataDir: string;
  clientPort: number;
  peerPort: number;
  pid?: number;
  relayPid?: number;
}

export async function planEtcd(labDir: string): Promise<LabEtcd> {
  return { dataDir: join(labDir, 'etcd'), clientPort: await freePort(), peerPort: await freePort() };
}

/** etcd names its unix socket after the URL's host:port, in its working folder (the lab folder). */
export function etcdSocket(labDir: string, e: LabEtcd): string {
  return join(labDir, `localhost:${e.clientPort}`);
}

/** Starts etcd inside the VNet namespace, listening on its loopback, the given gateways and a unix socket. */
export function startEtcd(
  name: string,
  labDir: string,
  e: LabEtcd,
  vnetNetns: string,
  gateways: string[],
): number {
  mkdirSync(e.dataDir, { recursive: true, mode: 0o700 });
  const peer = `http://127.0.0.1:${e.peerPort}`;
  const clients = ['127.0.0.1', ...gateways].map((ip) => `http://${ip}:${e.clientPort}`);
  return spawnDaemon(
    [
      'etcd',
      '--name',
      `pl-${name}`,
      '--data-dir',
      e.dataDir,
      '--listen-client-urls',
      [...clients, `unix://localhost:${e.clientPort}`].join(','),
      '--advertise-client-urls',
      clients[0],
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `pl-${name}=${peer}`,
      '--log-level',
      'warn',
    ],
    { logFile: join(labDir, 'etcd.log'), cwd: labDir, netns: vnetNetns },
  );
}

/** Starts the host-side relay: 127.0.0.1:clientPort (host namespace) to etcd's unix socket. */
export function startRelay(labDir: string, e: LabEtcd): number {
  const script = fileURLToPath(new URL('./store-relay.js', import.meta.url));
  return spawnDaemon([process.execPath, script, String(e.clientPort), etcdSocket(labDir, e)], {
    logFile: join(labDir, 'relay.log'),
  });
}

export async function waitEtcdHealthy(labDir: string, e: LabEtcd, timeoutMs = 20_000): Promise<void> {
  await waitFor('the lab etcd to become healthy', timeoutMs, async () => {
    const r = await unixGet(etcdSocket(labDir, e), '/health', 1000);
    return (JSON.parse(r.body) as { health?: string }).health === 'true' ? true : undefined;
  });
}
