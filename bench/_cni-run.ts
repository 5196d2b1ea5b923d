/**
 * What the CNI benchmarks share: the driver run inside a node namespace (`_cni-driver.ts`), a test agent's
 * readiness, and percentiles.
 */
import { fileURLToPath } from 'node:url';
import { type NetnsProcess, spawnInNetns } from '../src/kernel/process.js';
import type { DriverTimings } from './_cni-driver.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

export async function untilReady(child: NetnsProcess): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('test agent did not start within 10 s')), 10_000);
    child.stdout?.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`test agent exited with ${code}`)));
  });
}

export function runDriver(nodeNetns: string, opts: unknown): Promise<DriverTimings> {
  return new Promise((resolve, reject) => {
    const child = spawnInNetns(
      nodeNetns,
      [process.execPath, here('./_cni-driver.js'), JSON.stringify(opts)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const out: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(Buffer.concat(out).toString()))
        : reject(new Error(`driver exited ${code}`)),
    );
  });
}
