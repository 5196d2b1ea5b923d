/**
 * Run inside a pod by bench/policy.ts: `node _connect-rate.js IP PORT SECONDS` opens TCP connections to
 * IP:PORT one after another for SECONDS (each: connect, read the answer, close) and prints how many per second.
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

let n = 0;
const start = performance.now();
while (performance.now() < until) {
  await once();
  n++;
}
process.stdout.write(`${(n / ((performance.now() - start) / 1000)).toFixed(1)}\n`);
