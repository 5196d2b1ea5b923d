/**
 * Starts real etcd servers (Debian's `etcd`, 3.4) for tests and benchmarks: one member or a cluster, on free
 * high ports of 127.0.0.1 only, each with its own temporary data directory. `stop()` ends only the processes
 * it started (by pid) and removes its directories; a process exit kills them too, so a crashed test leaves
 * nothing running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  /** The same member on etcd's unix socket (`unix:///...`, `unixs:///...` with TLS): reachable from any netns. */
  socketUrl: string;
  peerUrl: string;
  dataDir: string;
  /** Running process, or null while stopped. */
  process: ChildProcess | null;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Client URLs of all members. */
  urls: string[];
  /** A `--store` URL for these members, with a key prefix (default: a random one, so tests never share data). */
  storeUrl(prefix?: string): string;
  /** Stops one member (SIGKILL when `hard`), leaving the others running. */
  stopMember(index: number, hard?: boolean): Promise<void>;
  /** Starts a stopped member again with its data. */
  startMember(index: number): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) if (p.exitCode === null) p.kill('SIGKILL');
});

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The first port the kernel hands out to outgoing connections (Linux default 32768). */
function ephemeralLow(): number {
  try {
    return (
      Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768
    );
  } catch {
    return 32_768;
  }
}

/**
 * Distinct free ports on 127.0.0.1, below the ephemeral range: a port inside it can be taken by any outgoing
 * connection (etcd members dialling each other, for one) between this check and etcd's bind.
 */
export async function freePorts(count: number): Promise<number[]> {
  const low = 10_000;
  const span = Math.max(1_000, ephemeralLow() - low);
  const ports = new Set<number>();
  while (ports.size < count) {
    const p = low + Math.floor(Math.random() * span);
    if (!ports.has(p) && (await portIsFree(p))) ports.add(p);
  }
  return [...ports];
}

function readLog(base: string, m: EtcdMember): string {
  try {
    return readFileSync(join(base, `${m.name}.log`), 'utf8');
  } catch {
    return '';
  }
}

/** Files of a member run with mutual TLS (`podnet store certs` makes them). */
export interface EtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** GET /health of a member; with TLS, shown the member's own certificate (it is a client certificate too). */
function health(url: string, tls?: EtcdTls): Promise<boolean> {
  return new Promise((resolve) => {
    const req = (tls ? httpsRequest : httpRequest)(
      `${url}/health`,
      {
        timeout: 1000,
        ...(tls
          ? { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }
          : {}),
      },
      (res) => {
        const body: Buffer[] = [];
        res.on('data', (b: Buffer) => body.push(b));
        res.on('end', () => resolve(/"health":\s*"true"/.test(Buffer.concat(body).toString())));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function waitHealthy(member: EtcdMember, timeoutMs: number, tls?: EtcdTls): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (member.process?.exitCode !== null) break;
    if (await health(member.clientUrl, tls)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd member ${member.name} did not become healthy`);
}

function stopProcess(p: ChildProcess, hard: boolean): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.once('exit', () => {
      clearTimeout(kill);
      running.delete(p);
      resolve();
    });
    p.kill(hard ? 'SIGKILL' : 'SIGTERM');
  });
}

/** A member that exited before it was healthy because its port was taken after `freePorts` saw it free. */
class PortTaken extends Error {}

/**
 * Starts `members` etcd members (default 1) and waits until all are healthy. A port lost to another process
 * between the check and the bind is a race no check can close, so that case alone is retried with fresh ports.
 */
export async function startEtcd(opts: { members?: number; tls?: EtcdTls } = {}): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(opts.members ?? 1, opts.tls);
    } catch (e) {
      if (!(e instanceof PortTaken) || attempt === 3) throw e;
    }
  }
}

async function startEtcdOnce(n: number, tls?: EtcdTls): Promise<EtcdCluster> {
  const scheme = tls ? 'https' : 'http';
  // Data on tmpfs when there is one: the tests measure podnet, not the disk's fsync.
  const base = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'podnet-etcd-'));
  const ports = await freePorts(2 * n);
  const token = `podnet-test-${randomBytes(4).toString('hex')}`;
  const members: EtcdMember[] = Array.from({ length: n }, (_, i) => ({
    name: `m${i}`,
    clientUrl: `${scheme}://127.0.0.1:${ports[2 * i]}`,
    // etcd names the socket after the URL's host:port, in its working folder (`base`).
    socketUrl: `${tls ? 'unixs' : 'unix'}://${join(base, `localhost:${ports[2 * i]}`)}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
    dataDir: join(base, `m${i}`),
    process: null,
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');

  const launch = (m: EtcdMember, state: 'new' | 'existing') => {
    const log = openSync(join(base, `${m.name}.log`), 'a');
    const p = spawn(
      'etcd',
      [
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=${m.clientUrl},${tls ? 'unixs' : 'unix'}://localhost:${new URL(m.clientUrl).port}`,
        `--advertise-client-urls=${m.clientUrl}`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${token}`,
        `--initial-cluster-state=${state}`,
        '--heartbeat-interval=50',
        '--election-timeout=500',
        '--logger=zap',
        '--log-outputs=stderr',
        ...(tls
          ? [
              '--client-cert-auth',
              `--trusted-ca-file=${tls.caFile}`,
              `--cert-file=${tls.certFile}`,
              `--key-file=${tls.keyFile}`,
            ]
          : []),
      ],
      { stdio: ['ignore', log, log], cwd: base },
    );
    running.add(p);
    p.once('exit', () => running.delete(p));
    m.process = p;
  };

  const cluster: EtcdCluster = {
    members,
    urls: members.map((m) => m.clientUrl),
    storeUrl: (prefix = `/podnet-test-${randomBytes(4).toString('hex')}/v1/`) =>
      `etcd:${members.map((m) => m.clientUrl).join(',')}?prefix=${prefix}`,
    async stopMember(i, hard = false) {
      const p = members[i].process;
      members[i].process = null;
      if (p) await stopProcess(p, hard);
    },
    async startMember(i) {
      launch(members[i], 'existing');
      await waitHealthy(members[i], 20_000, tls);
    },
    async stop() {
      await Promise.all(members.map((_, i) => cluster.stopMember(i)));
      rmSync(base, { recursive: true, force: true });
    },
  };
  try {
    for (const m of members) launch(m, 'new');
    await Promise.all(members.map((m) => waitHealthy(m, 30_000, tls)));
  } catch (e) {
    const logs = members.map((m) => readLog(base, m));
    await cluster.stop();
    if (logs.some((l) => l.includes('address already in use'))) throw new PortTaken(String(e));
    // The data directory (and the log in it) is gone after stop, so the log's last lines go into the error.
    const tails = members.map(
      (m, i) => `--- ${m.name}.log\n${logs[i].trimEnd().split('\n').slice(-5).join('\n')}`,
    );
    throw new Error(`${(e as Error).message}\n${tails.join('\n')}`);
  }
  return cluster;
}
