/**
 * What the lab benchmarks measure the network with: iperf3 throughput between namespaces (bounded in time), its
 * server, and the median the paired rounds are reported by.
 */
import { type NetnsProcess, execInNetns, spawnInNetns } from '../src/kernel/process.js';
import { waitFor } from '../src/lab/processes.js';

export const IPERF_PORT = 5201;
export const IPERF_SECONDS = 2;
/** The first half second (TCP slow start) is left out of the figure. */
export const IPERF_OMIT = 0.5;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** TCP throughput in Gbit/s from a namespace to `ip` (an iperf3 server there), over `streams` streams. */
export async function iperf(from: { netns: string }, ip: string, streams = 1): Promise<number> {
  const argv = ['-c', ip, '-p', String(IPERF_PORT), '-t', String(IPERF_SECONDS), '-O', String(IPERF_OMIT)];
  const res = await execInNetns(from.netns, ['iperf3', ...argv, '-P', String(streams), '-J'], {
    timeoutMs: (IPERF_SECONDS + 10) * 1000,
  });
  if (res.code !== 0)
    throw new Error(`iperf3 to ${ip} from ${from.netns} failed: ${res.stdout}${res.stderr}`);
  const r = JSON.parse(res.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return r.end.sum_received.bits_per_second / 1e9;
}

/** An iperf3 server in a namespace, once it listens. */
export async function iperfServer(at: { netns: string }): Promise<NetnsProcess> {
  const child = spawnInNetns(at.netns, ['iperf3', '-s', '-p', String(IPERF_PORT), '--forceflush']);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await waitFor(`iperf3 server in ${at.netns}`, 5000, async () =>
    out.includes('listening') ? true : undefined,
  );
  return child;
}
