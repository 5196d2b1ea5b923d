/**
 * Run inside a pod by bench/policy.ts and bench/services.ts: `node _connect-rate.js IP PORT SECONDS` opens TCP
 * connections to IP:PORT one after another for SECONDS (each: connect, read the answer, close) and prints how
 * many per second, then the median and 99th percentile of one connection's time in microseconds.
 */
import { connect } from 'node:net';

const [, , ip, port, seconds] = process.argv;
const until = performance.now() + Number(seconds) * 1000;

function once(): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: ip, port: Number(port) });
    s.setTimeout(2000, () => s.destroy(new Error('timeout')));
    s.on('data', () => {});
    s.on('end', () => s.destroy());
    s.on('close', (failed) => (failed ? reject(new Error('connection failed')) : resolve()));
    s.on('error', reject);
  });
}

const times: number[] = [];
const start = performance.now();
while (performance.now() < until) {
  const t = performance.now();
  await once();
  times.push((performance.now() - t) * 1000);
}
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
process.stdout.write(
  `${(times.length / ((performance.now() - start) / 1000)).toFixed(1)} ${at(0.5).toFixed(0)} ${at(0.99).toFixed(0)}\n`,
);
