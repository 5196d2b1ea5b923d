/**
 * Relays TCP connections on 127.0.0.1:PORT to a unix socket: `node store-relay.js PORT SOCKET`. The lab's
 * etcd lives in the VNet namespace; this gives host-side lab commands the `etcd:http://127.0.0.1:PORT`
 * endpoint the store client expects. Stopped by `lab down`.
 */
import { connect, createServer } from 'node:net';

const [port, socket] = [Number(process.argv[2]), process.argv[3]];
createServer((client) => {
  const upstream = connect(socket);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
}).listen(port, '127.0.0.1');
