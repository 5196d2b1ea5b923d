/**
 * The lab's own daemons (node agents, the fabric router, etcd): started detached through the kernel layer
 * (`spawnDaemon`) with their output in a log file, recorded by pid, and stopped by pid. A process is only
 * ever signalled when its command line still names the lab's state folder, so a recycled pid of someone
 * else's process is never touched.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { PodnetError } from '../errors/index.js';

/** The podnet executable of this checkout (bin/podnet.js), run with the same Node.js. */
export function podnetCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('../../../bin/podnet.js', import.meta.url))];
}

function cmdline(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((a) => a !== '');
  } catch {
    return null;
  }
}

/** True when `pid` runs and its command line mentions `marker` (the lab's state folder). */
export function isOurs(pid: number, marker: string): boolean {
  const args = cmdline(pid);
  return args?.some((a) => a.includes(marker)) ?? false;
}

/** Every process whose command line mentions `marker`: what a crashed `lab up` may have left running. */
export function findProcesses(marker: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (Number.isInteger(pid) && pid !== process.pid && isOurs(pid, marker)) pids.push(pid);
  }
  return pids;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(pid: number, marker: string, graceMs = 3000): Promise<void> {
  if (!isOurs(pid, marker)) return;
  signal(pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    if (!isOurs(pid, marker)) return;
    await sleep(25);
  }
  signal(pid, 'SIGKILL');
  while (isOurs(pid, marker)) await sleep(10);
}

export function killNow(pid: number, marker: string): void {
  if (isOurs(pid, marker)) signal(pid, 'SIGKILL');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value, or throws `LabTimeout` naming `what` (or `signal`'s reason). */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  signal?: AbortSignal,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) {
      throw new PodnetError('LabTimeout', `timed out after ${timeoutMs} ms waiting for ${what}`, {
        hint: 'look at the logs in the lab folder (podnet lab status shows it)',
        details: last instanceof Error ? { lastError: last.message } : undefined,
      });
    }
    await sleep(100);
  }
}

/** GET over a unix socket (the agent's API); resolves with the status and the body. */
export function unixGet(
  socketPath: string,
  path: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
