/**
 * The receiving end of `lab check` probes, run inside a lab namespace: `node probe-listener.js PORT [HOST]`
 * (HOST `::` in a dual-stack lab: both families on one socket).
 * Prints `ready`, then for every connection one JSON line with the tag the sender wrote and the source
 * address the receiver saw (which tells whether SNAT happened on the way). Stopped by its parent.
 */
import { createServer } from 'node:net';

const port = Number(process.argv[2]);
const server = createServer((sock) => {
  const peer = sock.remoteAddress?.replace(/^::ffff:/, '') ?? null;
  let tag = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    tag += d;
  });
  sock.on('end', () => {
    process.stdout.write(`${JSON.stringify({ tag: tag.trim(), peer })}\n`);
    sock.end();
  });
  sock.on('error', () => {});
});
server.listen(port, process.argv[3] ?? '0.0.0.0', () => process.stdout.write('ready\n'));
// A listener whose parent died must not linger: it lives at most a minute.
setTimeout(() => process.exit(0), 60_000).unref();
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
