/**
 * `lab up --store etcd`: the lab's own single-member etcd on loopback ports, its data under the lab folder,
 * stopped by `lab down`.
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { spawnDaemon, waitFor } from './processes.js';

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
}

export async function planEtcd(labDir: string): Promise<LabEtcd> {
  return { dataDir: join(labDir, 'etcd'), clientPort: await freePort(), peerPort: await freePort() };
}

export function startEtcd(name: string, e: LabEtcd, logFile: string): number {
  mkdirSync(e.dataDir, { recursive: true, mode: 0o700 });
  const client = `http://127.0.0.1:${e.clientPort}`;
  const peer = `http://127.0.0.1:${e.peerPort}`;
  return spawnDaemon(
    [
      'etcd',
      '--name',
      `pl-${name}`,
      '--data-dir',
      e.dataDir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `pl-${name}=${peer}`,
      '--log-level',
      'warn',
    ],
    logFile,
  );
}

export async function waitEtcdHealthy(e: LabEtcd, timeoutMs = 20_000): Promise<void> {
  await waitFor('the lab etcd to become healthy', timeoutMs, async () => {
    const r = await fetch(`http://127.0.0.1:${e.clientPort}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await r.json()) as { health?: string };
    return body.health === 'true' ? true : undefined;
  });
}
