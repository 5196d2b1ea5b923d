/**
 * One DNS query as a pod's own stub resolver sends it, for the tests: `node query.js NAME TYPE udp|tcp` run
 * inside the pod (with its /etc), to the first nameserver of its /etc/resolv.conf, prints the answer as JSON
 * `{ rcode, answers: [{ type, name, data }] }`. The name is asked as given (absolute): search-path walking is
 * glibc's business, checked with getent.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import * as packet from 'dns-packet';

const [, , name = '', type = 'A', transport = 'udp'] = process.argv;
const server = /^nameserver\s+(\S+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'))?.[1] ?? '127.0.0.1';
const query = packet.encode({
  id: 4242,
  type: 'query',
  flags: packet.RECURSION_DESIRED,
  questions: [{ name, type: type as packet.RecordType }],
} as packet.Packet);

function print(msg: Buffer): void {
  const r = packet.decode(msg);
  const answers = (r.answers ?? []).map((a) => ({
    type: a.type,
    name: a.name,
    data: (a as { data: unknown }).data,
  }));
  process.stdout.write(`${JSON.stringify({ rcode: (r as { rcode?: string }).rcode, answers })}\n`);
  process.exit(0);
}

setTimeout(() => {
  process.stderr.write('no answer\n');
  process.exit(1);
}, 3000);
if (transport === 'tcp') {
  const sock = net.connect(53, server, () => sock.write(packet.streamEncode(packet.decode(query))));
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0))
      print(buf.subarray(2, 2 + buf.readUInt16BE(0)));
  });
} else {
  const sock = dgram.createSocket('udp4');
  sock.on('message', print);
  sock.send(query, 53, server);
}
