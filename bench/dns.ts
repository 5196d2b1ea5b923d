/**
 * The cluster DNS server (src/dns/server.ts over records.ts) against the floor of the same exchange answered by
 * a minimal UDP echo, in one process on loopback: the echo sends back a prebuilt copy of the server's own
 * reply (same size), so the difference is decoding, record lookup and encoding. The world is issue 11's
 * scale, 1,000 Services with 10 endpoints each; queries are a ClusterIP A, a headless A (10 answers) and an
 * NXDOMAIN. Paired rounds (server, echo, alternating), each a fixed number of queries with a fixed number in
 * flight, bounded in time; reported: queries per second and p99 latency of each, and their ratio.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import * as packet from 'dns-packet';
import { resolve } from '../src/dns/records.js';
import { DnsServer } from '../src/dns/server.js';
import type { PodEndpoint } from '../src/endpoints/record.js';
import type { ServiceWorld } from '../src/services/proxy.js';
import type { Service } from '../src/services/types.js';

const SERVICES = 1000;
const ENDPOINTS = 10;
const QUERIES = 20_000;
const IN_FLIGHT = 16;
const ROUNDS = 3;
/** A round that takes longer than this stops early (the count it reached is what is reported). */
const ROUND_LIMIT_MS = 15_000;

function world(): ServiceWorld {
  const services: Service[] = [];
  const endpoints: PodEndpoint[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const ns = `team-${i % 20}`;
    const headless = i % 10 === 0;
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${i}`, namespace: ns },
      spec: {
        type: 'ClusterIP',
        clusterIP: headless ? 'None' : `10.0.${i >> 8}.${i & 255}`,
        clusterIPs: [headless ? 'None' : `10.0.${i >> 8}.${i & 255}`],
        selector: { app: `app-${i}` },
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
      },
    });
    for (let e = 0; e < ENDPOINTS; e++)
      endpoints.push({
        node: `node-${e}`,
        nodeIp: `10.224.0.${e + 4}`,
        containerId: `c-${i}-${e}`,
        ifname: 'eth0',
        ips: [`10.244.${e}.${(i % 250) + 1}`],
        namespace: ns,
        name: `app-${i}-${e}`,
        labels: { app: `app-${i}` },
      });
  }
  return { services, endpoints };
}

const QUESTIONS = [
  { label: 'ClusterIP A', name: 'svc-501.team-1.svc.cluster.local' },
  { label: 'headless A (10 endpoints)', name: 'svc-500.team-0.svc.cluster.local' },
  { label: 'NXDOMAIN', name: 'nope.team-0.svc.cluster.local' },
];

/** A query as glibc and c-ares send it today: with an EDNS0 OPT offering 1,232 bytes (RFC 6891, DNS flag day 2020). */
const query = (id: number, name: string) =>
  packet.encode({
    id,
    type: 'query',
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type: 'A' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as packet.Answer],
  } as packet.Packet);

function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** `QUERIES` queries to `port`, `IN_FLIGHT` at a time; queries per second and latencies (ms). */
async function round(port: number, name: string): Promise<{ qps: number; lat: number[] }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((ok) => sock.bind(0, '127.0.0.1', () => ok()));
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  const start = performance.now();
  let next = 0;
  await new Promise<void>((done) => {
    const send = () => {
      if (next >= QUERIES || performance.now() - start > ROUND_LIMIT_MS) {
        if (sentAt.size === 0) done();
        return;
      }
      const id = (next++ % 0xffff) + 1;
      sentAt.set(id, performance.now());
      sock.send(query(id, name), port, '127.0.0.1');
    };
    sock.on('message', (msg) => {
      const id = msg.readUInt16BE(0);
      const t = sentAt.get(id);
      if (t === undefined) return;
      sentAt.delete(id);
      lat.push(performance.now() - t);
      send();
    });
    for (let i = 0; i < IN_FLIGHT; i++) send();
  });
  const seconds = (performance.now() - start) / 1000;
  sock.close();
  return { qps: lat.length / seconds, lat };
}

/** The floor: a UDP socket that answers every query with `reply`, its id set to the query's. */
async function echo(reply: Buffer): Promise<{ port: number; close(): void }> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, from) => {
    const out = Buffer.from(reply);
    msg.copy(out, 0, 0, 2);
    sock.send(out, from.port, from.address);
  });
  await new Promise<void>((ok) => sock.bind(0, '127.0.0.1', () => ok()));
  return { port: (sock.address() as AddressInfo).port, close: () => sock.close() };
}

export default {
  name: 'dns',
  async run(): Promise<string> {
    const w = world();
    const server = new DnsServer({ host: '127.0.0.1', port: 0, resolve: (n, t) => resolve(w, n, t) });
    await server.start();
    const rows: string[] = [];
    try {
      for (const q of QUESTIONS) {
        const reply = (await server.answer(query(1, q.name), 'udp')) as Buffer;
        const floor = await echo(reply);
        const s = { qps: [] as number[], lat: [] as number[] };
        const e = { qps: [] as number[], lat: [] as number[] };
        for (let r = 0; r < ROUNDS; r++) {
          const a = await round(server.port, q.name);
          const b = await round(floor.port, q.name);
          s.qps.push(a.qps);
          s.lat.push(...a.lat);
          e.qps.push(b.qps);
          e.lat.push(...b.lat);
        }
        floor.close();
        const med = (x: number[]) => percentile(x, 50);
        rows.push(
          `| ${q.label} | ${reply.length} B | ${Math.round(med(s.qps)).toLocaleString('en')} | ${Math.round(med(e.qps)).toLocaleString('en')} | ${(med(s.qps) / med(e.qps)).toFixed(2)} | ${percentile(s.lat, 99).toFixed(2)} ms | ${percentile(e.lat, 99).toFixed(2)} ms |`,
        );
      }
    } finally {
      await server.stop();
    }
    return [
      '### Cluster DNS server vs a UDP echo (same process, loopback)',
      '',
      `${SERVICES.toLocaleString('en')} Services with ${ENDPOINTS} endpoints each (every tenth headless); ${QUERIES.toLocaleString('en')} queries per round, ${IN_FLIGHT} in flight, ${ROUNDS} paired rounds; queries per second is the median round, p99 over all rounds. The echo answers with a copy of the server's own reply.`,
      '',
      '| query | reply | server q/s | echo q/s | ratio | server p99 | echo p99 |',
      '|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n');
  },
};
