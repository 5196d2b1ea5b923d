/**
 * `lab up --store etcd`: the lab's own single-member etcd, run as Kubernetes runs its etcd, with mutual TLS
 * (`--client-cert-auth`, https://etcd.io/docs/v3.4/op-guide/security/), stopped by `lab down`. It runs in the
 * VNet namespace, as a control plane reached over the VNet: agents (which live in their node namespaces, where
 * 127.0.0.1 is the node's own loopback) reach it at their subnet gateway's address, each with its own client
 * certificate. Lab commands, the fabric router and the lab kubelet, in the host namespace, reach it through
 * etcd's TLS unix socket in the lab folder (0700) with the lab's operator certificate: no TCP port is open
 * outside lab namespaces, and nothing answers without a certificate of the lab's CA (in `<lab>/pki`, 0700).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { spawnDaemon } from '../kernel/process.js';
import { writeStoreCerts } from '../store/certs.js';
import { waitFor } from './processes.js';

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
  /** The lab's CA, etcd's certificate, and a client certificate per lab client (`operator`, `node-<name>`). */
  pki: string;
  pid?: number;
}

/** The lab's host-side client: lab commands, the fabric router and the kubelet. */
export const LAB_OPERATOR = 'operator';
/** The client certificate of a node's agent: its common name is its etcd user. */
export const nodeClient = (node: string) => `node-${node}`;

export async function planEtcd(labDir: string): Promise<LabEtcd> {
  return {
    dataDir: join(labDir, 'etcd'),
    clientPort: await freePort(),
    peerPort: await freePort(),
    pki: join(labDir, 'pki'),
  };
}

/** etcd names its unix socket after the URL's host:port, in its working folder (the lab folder). */
export function etcdSocket(labDir: string, e: LabEtcd): string {
  return join(labDir, `localhost:${e.clientPort}`);
}

/** The credentials file of one lab client (`podnet store certs` writes NAME.yaml). */
export const clientCredentials = (e: LabEtcd, client: string) => join(e.pki, `${client}.yaml`);

/** The store URL of the host-side lab clients: etcd's TLS unix socket, with the operator certificate. */
export function labStoreUrl(labDir: string, e: LabEtcd): string {
  return `etcd:unixs://${etcdSocket(labDir, e)}?credentials=${clientCredentials(e, LAB_OPERATOR)}`;
}

/** The lab CA, etcd's own certificate (its gateways, loopback and socket) and the operator's. */
export async function makeLabPki(e: LabEtcd, gateways: string[]): Promise<void> {
  await writeStoreCerts({
    out: e.pki,
    servers: [{ name: 'etcd', sans: ['localhost', '127.0.0.1', ...gateways] }],
    clients: [LAB_OPERATOR],
  });
}

/** A node agent's own client certificate, issued when the node is added (the CA stays in the lab folder). */
export async function issueNodeCert(e: LabEtcd, node: string): Promise<void> {
  const client = nodeClient(node);
  // A node of the same name removed earlier (scale in, then out) left its files: they are the same node's.
  for (const ext of ['crt', 'key', 'yaml']) rmSync(join(e.pki, `${client}.${ext}`), { force: true });
  await writeStoreCerts({ out: e.pki, servers: [], clients: [client] });
}

/** Starts etcd inside the VNet namespace, listening over TLS on its loopback, the gateways and a unix socket. */
export function startEtcd(
  name: string,
  labDir: string,
  e: LabEtcd,
  vnetNetns: string,
  gateways: string[],
): number {
  mkdirSync(e.dataDir, { recursive: true, mode: 0o700 });
  const peer = `http://127.0.0.1:${e.peerPort}`;
  const clients = ['127.0.0.1', ...gateways].map((ip) => `https://${ip}:${e.clientPort}`);
  return spawnDaemon(
    [
      'etcd',
      '--name',
      `pl-${name}`,
      '--data-dir',
      e.dataDir,
      '--listen-client-urls',
      [...clients, `unixs://localhost:${e.clientPort}`].join(','),
      '--advertise-client-urls',
      clients[0],
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `pl-${name}=${peer}`,
      '--client-cert-auth',
      '--trusted-ca-file',
      join(e.pki, 'ca.crt'),
      '--cert-file',
      join(e.pki, 'etcd.crt'),
      '--key-file',
      join(e.pki, 'etcd.key'),
      '--log-level',
      'warn',
    ],
    { logFile: join(labDir, 'etcd.log'), cwd: labDir, netns: vnetNetns },
  );
}

/** GET /health over etcd's TLS unix socket with the operator certificate. */
function health(labDir: string, e: LabEtcd): Promise<boolean> {
  const file = (f: string) => readFileSync(join(e.pki, f));
  return new Promise((resolve) => {
    const req = request(
      {
        socketPath: etcdSocket(labDir, e),
        host: 'localhost',
        path: '/health',
        timeout: 1000,
        ca: file('ca.crt'),
        cert: file(`${LAB_OPERATOR}.crt`),
        key: file(`${LAB_OPERATOR}.key`),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(/"health":\s*"true"/.test(Buffer.concat(chunks).toString())));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

export async function waitEtcdHealthy(labDir: string, e: LabEtcd, timeoutMs = 20_000): Promise<void> {
  await waitFor('the lab etcd to become healthy', timeoutMs, async () =>
    (await health(labDir, e)) ? true : undefined,
  );
}
