/**
 * A lab pod's workload, run inside the pod's namespace: `node responder.js LABDIR NS/NAME PROTO:PORT...`.
 * It answers on each container port with the pod's own `<namespace>/<name>\n`, so a probe knows which pod it
 * reached: TCP writes it on connect and closes; UDP answers every datagram with it; SCTP (which Node.js has
 * no sockets for) is Debian's socat, `SCTP-LISTEN` with `fork`, tied to this process's life by setpriv's
 * parent-death signal. LABDIR only marks the process as the lab's (lab down finds it by its command line).
 * TCP and UDP listen on `::`, which takes both families on one socket (IPv4 as mapped addresses), so a
 * dual-stack pod answers on its IPv6 address too; a namespace without IPv6 falls back to `0.0.0.0`.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

const [, , , who, ...ports] = process.argv;
const answer = `${who}\n`;
const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} ${who}: ${msg}\n`);

for (const spec of ports) {
  const [proto, text] = spec.split(':');
  const port = Number(text);
  if (proto === 'TCP') {
    const listen = (host: string) =>
      createServer((sock) => {
        sock.on('error', () => {});
        sock.end(answer);
      })
        .on('error', (e: NodeJS.ErrnoException) => {
          if (host === '::' && e.code === 'EAFNOSUPPORT') listen('0.0.0.0');
          else log(`tcp ${port}: ${e.message}`);
        })
        .listen(port, host, () => log(`tcp ${port} listening on ${host}`));
    listen('::');
  } else if (proto === 'UDP') {
    const bind = (type: 'udp6' | 'udp4') => {
      const udp = createSocket(type);
      udp.on('message', (_msg, from) => udp.send(answer, from.port, from.address));
      udp.on('error', (e: NodeJS.ErrnoException) => {
        if (type === 'udp6' && e.code === 'EAFNOSUPPORT') bind('udp4');
        else log(`udp ${port}: ${e.message}`);
      });
      udp.bind(port, type === 'udp6' ? '::' : '0.0.0.0', () => log(`udp ${port} listening (${type})`));
    };
    bind('udp6');
  } else if (proto === 'SCTP') {
    // EXEC splits on spaces and execs without a shell; the name is a DNS name, so it is one word.
    const socat = spawn(
      'setpriv',
      ['--pdeathsig', 'SIGKILL', '--', 'socat', `SCTP-LISTEN:${port},fork,reuseaddr`, `EXEC:echo ${who}`],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    socat.on('error', (e) => log(`sctp ${port}: ${e.message}`));
    socat.on('exit', (code) => log(`sctp ${port}: socat exited with ${code} (does the kernel have SCTP?)`));
    log(`sctp ${port} listening (socat)`);
  } else log(`unknown protocol in ${spec}`);
}
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => process.exit(0));
