/**
 * The design podnet did NOT choose, kept only to measure it: the same thin forwarder as `bin/podnet-cni`, but
 * as a Node.js program. Its start-up cost is what the sh shim avoids.
 */
import { request } from 'node:http';

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const body = Buffer.concat(chunks).toString();
const socketPath = (JSON.parse(body) as { agentSocket?: string }).agentSocket ?? '/run/podnet/agent.sock';
const headers: Record<string, string> = {};
for (const k of ['COMMAND', 'CONTAINERID', 'NETNS', 'IFNAME', 'ARGS', 'PATH']) {
  headers[`X-Cni-${k[0]}${k.slice(1).toLowerCase()}`] = process.env[`CNI_${k}`] ?? '';
}
const req = request({ socketPath, path: '/v1/cni', method: 'POST', headers }, (res) => {
  const out: Buffer[] = [];
  res.on('data', (c: Buffer) => out.push(c));
  res.on('end', () => {
    process.stdout.write(Buffer.concat(out));
    process.exitCode = res.statusCode === 200 ? 0 : 1;
  });
});
req.on('error', (e) => {
  process.stdout.write(
    JSON.stringify({ cniVersion: '1.0.0', code: 11, msg: 'podnet agent not reachable', details: e.message }),
  );
  process.exitCode = 1;
});
req.end(body);
