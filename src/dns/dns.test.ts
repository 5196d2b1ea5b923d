/**
 * Cluster DNS per the Kubernetes DNS specification 1.0.1 (kubernetes/dns docs/specification.md: A/AAAA for
 * ClusterIP services, headless services' endpoints, SRV for named ports "_<port>._<proto>.<service>.<ns>.svc",
 * NXDOMAIN for names that do not exist, dns-version TXT) and
 * https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/, served over UDP and TCP on loopback,
 * with names outside the zone relayed to an upstream, and fuzzed packets.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as packet from 'dns-packet';
import type { PodEndpoint } from '../endpoints/record.js';
import type { ServiceWorld } from '../services/proxy.js';
import type { Service } from '../services/types.js';
import { outsideRecords } from './outside.js';
import { resolve } from './records.js';
import { DnsServer, EDNS_UDP_SIZE } from './server.js';

const ep = (name: string, ip: string, labels: Record<string, string>): PodEndpoint => ({
  node: 'n1',
  nodeIp: '10.224.0.4',
  containerId: `c-${name}`,
  ifname: 'eth0',
  ips: [ip],
  namespace: 'shop',
  name,
  labels,
  ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
});

const svc = (name: string, spec: Partial<Service['spec']>): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec: { type: 'ClusterIP', ...spec },
});

const world: ServiceWorld = {
  services: [
    svc('web', {
      clusterIP: '10.0.5.5',
      clusterIPs: ['10.0.5.5'],
      selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
    }),
    svc('db', {
      clusterIP: 'None',
      clusterIPs: ['None'],
      selector: { app: 'db' },
      ports: [{ name: 'sql', port: 5432, protocol: 'TCP', targetPort: 'pg' }],
    }),
    svc('empty', {
      clusterIP: 'None',
      clusterIPs: ['None'],
      selector: { app: 'nothing' },
      ports: [{ port: 80 }],
    }),
    svc('ext', { type: 'ExternalName', externalName: 'db.example.com' }),
  ],
  endpoints: [ep('db-0', '10.244.0.7', { app: 'db' }), ep('db-1', '10.244.1.8', { app: 'db' })],
};

const data = (r: ReturnType<typeof resolve>) =>
  r.kind === 'answer' ? r.answers.map((a) => a.data) : 'forward';

describe('cluster DNS records', () => {
  it('A for a ClusterIP service, case-insensitive, trailing dot or not; AAAA is NODATA on a single-stack service', () => {
    assert.deepEqual(data(resolve(world, 'web.shop.svc.cluster.local', 'A')), ['10.0.5.5']);
    assert.deepEqual(data(resolve(world, 'WEB.Shop.svc.cluster.local.', 'A')), ['10.0.5.5']);
    const aaaa = resolve(world, 'web.shop.svc.cluster.local', 'AAAA');
    assert.deepEqual(aaaa, { kind: 'answer', rcode: 'NOERROR', answers: [] });
  });

  it('headless: every endpoint, each under its own host name; none ready: NXDOMAIN', () => {
    assert.deepEqual(data(resolve(world, 'db.shop.svc.cluster.local', 'A')), ['10.244.0.7', '10.244.1.8']);
    assert.deepEqual(data(resolve(world, '10-244-1-8.db.shop.svc.cluster.local', 'A')), ['10.244.1.8']);
    assert.equal(
      (resolve(world, 'empty.shop.svc.cluster.local', 'A') as { rcode: string }).rcode,
      'NXDOMAIN',
    );
  });

  it('SRV for named ports: the service for ClusterIP, each endpoint with its target port for headless', () => {
    assert.deepEqual(data(resolve(world, '_http._tcp.web.shop.svc.cluster.local', 'SRV')), [
      { priority: 0, weight: 100, port: 80, target: 'web.shop.svc.cluster.local' },
    ]);
    assert.deepEqual(data(resolve(world, '_sql._tcp.db.shop.svc.cluster.local', 'SRV')), [
      { priority: 0, weight: 100, port: 5432, target: '10-244-0-7.db.shop.svc.cluster.local' },
      { priority: 0, weight: 100, port: 5432, target: '10-244-1-8.db.shop.svc.cluster.local' },
    ]);
    assert.equal(
      (resolve(world, '_nope._tcp.web.shop.svc.cluster.local', 'SRV') as { rcode: string }).rcode,
      'NXDOMAIN',
    );
  });

  it('ExternalName is a CNAME; pods a-b-c-d.ns.pod; dns-version; unknown names NXDOMAIN; others forwarded', () => {
    assert.deepEqual(data(resolve(world, 'ext.shop.svc.cluster.local', 'A')), ['db.example.com']);
    assert.deepEqual(data(resolve(world, '10-244-0-7.shop.pod.cluster.local', 'A')), ['10.244.0.7']);
    assert.deepEqual(data(resolve(world, 'dns-version.cluster.local', 'TXT')), [['1.0.1']]);
    for (const n of [
      'nope.shop.svc.cluster.local',
      'web.other.svc.cluster.local',
      'a.b.c.web.shop.svc.cluster.local',
    ])
      assert.equal((resolve(world, n, 'A') as { rcode: string }).rcode, 'NXDOMAIN', n);
    assert.deepEqual(resolve(world, 'example.com', 'A'), { kind: 'forward' });
  });

  // Kubernetes DNS spec 1.0.1 §2.3.1 (A/AAAA: "an A record for IPv4 or an AAAA record for IPv6" per cluster IP
  // family) and §2.4.1 (headless: one record per ready endpoint address of that family); CoreDNS's
  // endpointHostname names an IPv6 endpoint by its address with `:` made `-` (a trailing `-` gets a `0`).
  it('dual-stack: A and AAAA from spec.clusterIPs; headless AAAA for IPv6 endpoints, their host names and SRV targets', () => {
    const dual: ServiceWorld = {
      services: [
        svc('web', {
          clusterIP: '10.0.5.5',
          clusterIPs: ['10.0.5.5', 'fd00:10:96::5'],
          selector: { app: 'web' },
          ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        }),
        svc('v6only', { clusterIP: 'fd00:10:96::7', clusterIPs: ['fd00:10:96::7'], ports: [{ port: 80 }] }),
        svc('db', {
          clusterIP: 'None',
          clusterIPs: ['None'],
          selector: { app: 'db' },
          ports: [{ name: 'sql', port: 5432, protocol: 'TCP', targetPort: 'pg' }],
        }),
      ],
      endpoints: [
        { ...ep('db-0', '10.244.0.7', { app: 'db' }), ips: ['10.244.0.7', 'fd12:3456:789a::7'] },
        { ...ep('db-1', 'fd12:3456:789a::100', { app: 'db' }) },
      ],
    };
    assert.deepEqual(data(resolve(dual, 'web.shop.svc.cluster.local', 'A')), ['10.0.5.5']);
    assert.deepEqual(data(resolve(dual, 'web.shop.svc.cluster.local', 'AAAA')), ['fd00:10:96::5']);
    assert.deepEqual(resolve(dual, 'v6only.shop.svc.cluster.local', 'A'), {
      kind: 'answer',
      rcode: 'NOERROR',
      answers: [],
    });
    assert.deepEqual(data(resolve(dual, 'v6only.shop.svc.cluster.local', 'AAAA')), ['fd00:10:96::7']);
    assert.deepEqual(data(resolve(dual, 'db.shop.svc.cluster.local', 'A')), ['10.244.0.7']);
    assert.deepEqual(data(resolve(dual, 'db.shop.svc.cluster.local', 'AAAA')), [
      'fd12:3456:789a::7',
      'fd12:3456:789a::100',
    ]);
    assert.deepEqual(data(resolve(dual, 'fd12-3456-789a--7.db.shop.svc.cluster.local', 'AAAA')), [
      'fd12:3456:789a::7',
    ]);
    assert.deepEqual(
      (data(resolve(dual, '_sql._tcp.db.shop.svc.cluster.local', 'SRV')) as { target: string }[]).map(
        (d) => d.target,
      ),
      [
        '10-244-0-7.db.shop.svc.cluster.local',
        'fd12-3456-789a--7.db.shop.svc.cluster.local',
        'fd12-3456-789a--100.db.shop.svc.cluster.local',
      ],
    );
    assert.deepEqual(data(resolve(dual, 'fd00--5.shop.pod.cluster.local', 'AAAA')), ['fd00::5']);
  });

  // Kubernetes DNS spec 1.0.1 §2.4.1 ("<hostname>.<service>.<ns>.svc.<zone>" for a ready endpoint with a
  // hostname) and the pod hostname and subdomain fields: a StatefulSet's pod db-0 with subdomain db is
  // db-0.db.shop.svc.cluster.local, in A, SRV targets and PTR; its dashed name is gone; another subdomain is not
  // this service's, so that pod keeps its dashed name.
  it('pods with hostname and subdomain: their own name under the headless service, in A, SRV and PTR', () => {
    const named: ServiceWorld = {
      ...world,
      endpoints: [
        { ...ep('db-0', '10.244.0.7', { app: 'db' }), hostname: 'db-0', subdomain: 'db' },
        { ...ep('db-1', '10.244.1.8', { app: 'db' }), hostname: 'db-1', subdomain: 'other' },
      ],
    };
    assert.deepEqual(data(resolve(named, 'db-0.db.shop.svc.cluster.local', 'A')), ['10.244.0.7']);
    assert.equal(
      (resolve(named, '10-244-0-7.db.shop.svc.cluster.local', 'A') as { rcode: string }).rcode,
      'NXDOMAIN',
    );
    assert.deepEqual(data(resolve(named, '10-244-1-8.db.shop.svc.cluster.local', 'A')), ['10.244.1.8']);
    assert.deepEqual(
      (data(resolve(named, '_sql._tcp.db.shop.svc.cluster.local', 'SRV')) as { target: string }[]).map(
        (d) => d.target,
      ),
      ['db-0.db.shop.svc.cluster.local', '10-244-1-8.db.shop.svc.cluster.local'],
    );
    assert.deepEqual(data(resolve(named, '7.0.244.10.in-addr.arpa', 'PTR')), [
      'db-0.db.shop.svc.cluster.local',
    ]);
  });

  // Kubernetes DNS spec 1.0.1 §2.3.3 and §2.4.3 (PTR: a ClusterIP's `d.c.b.a.in-addr.arpa` to the service name,
  // IPv6 in RFC 3596's nibble form under ip6.arpa; an endpoint's address to its host name under the service),
  // as CoreDNS's serviceRecordForIP answers it: cluster IPs first, then endpoints of every Service selecting them
  // (host name: the dashed address). AKS's Corefile falls through in-addr.arpa and ip6.arpa, so other reverse
  // names go upstream.
  it('PTR: a cluster IP names its service, an endpoint its host under each service; other addresses forwarded', () => {
    assert.deepEqual(data(resolve(world, '5.5.0.10.in-addr.arpa', 'PTR')), ['web.shop.svc.cluster.local']);
    assert.deepEqual(data(resolve(world, '7.0.244.10.IN-ADDR.ARPA.', 'PTR')), [
      '10-244-0-7.db.shop.svc.cluster.local',
    ]);
    assert.deepEqual(resolve(world, '5.5.0.10.in-addr.arpa', 'A'), {
      kind: 'answer',
      rcode: 'NOERROR',
      answers: [],
    });
    for (const n of ['9.9.9.10.in-addr.arpa', '5.0.10.in-addr.arpa', '300.5.0.10.in-addr.arpa', '1.ip6.arpa'])
      assert.deepEqual(resolve(world, n, 'PTR'), { kind: 'forward' }, n);
    // Two Services selecting one pod: a PTR for each.
    const both: ServiceWorld = {
      ...world,
      services: [
        ...world.services,
        svc('db-rw', {
          clusterIP: 'fd00:10:96::9',
          clusterIPs: ['fd00:10:96::9'],
          selector: { app: 'db' },
          ports: [{ port: 5432 }],
        }),
      ],
    };
    assert.deepEqual(data(resolve(both, '7.0.244.10.in-addr.arpa', 'PTR')), [
      '10-244-0-7.db.shop.svc.cluster.local',
      '10-244-0-7.db-rw.shop.svc.cluster.local',
    ]);
    // fd00:10:96::9 written out, its 32 nibbles least significant first (RFC 3596 §2.5).
    const v6 = `${[...'fd000010009600000000000000000009'].reverse().join('.')}.ip6.arpa`;
    assert.deepEqual(data(resolve(both, v6, 'PTR')), ['db-rw.shop.svc.cluster.local']);
  });
});

describe("the lab's outside zone (RFC 6761 .test names)", () => {
  const outside = outsideRecords([
    { name: 'internet', kind: 'internet', ip: '203.0.113.10' },
    { name: 'onprem', kind: 'connected', ip: '192.168.100.10' },
  ]);
  it('www and every host by name; everything else does not exist, as the internet answers', () => {
    assert.deepEqual(data(outside('WWW.example.test.', 'A')), ['203.0.113.10']);
    assert.deepEqual(data(outside('onprem.example.test', 'A')), ['192.168.100.10']);
    assert.deepEqual(outside('onprem.example.test', 'AAAA'), {
      kind: 'answer',
      rcode: 'NOERROR',
      answers: [],
    });
    for (const n of ['nope.example.test', 'nope', 'web.default.svc.cluster.local'])
      assert.equal((outside(n, 'A') as { rcode: string }).rcode, 'NXDOMAIN', n);
  });
});

describe('the DNS server', () => {
  let server: DnsServer;
  let upstream: dgram.Socket;
  let current = world;
  const resolver = new Resolver({ timeout: 2000, tries: 1 });

  before(async () => {
    // A minimal upstream resolver: answers every A question with 192.0.2.1.
    upstream = dgram.createSocket('udp4');
    upstream.on('message', (msg, r) => {
      const q = packet.decode(msg);
      const answers = [
        { type: 'A', name: q.questions?.[0].name ?? '', ttl: 60, data: '192.0.2.1' },
      ] as packet.Answer[];
      upstream.send(
        packet.encode({
          id: q.id,
          type: 'response',
          flags: packet.RECURSION_AVAILABLE,
          questions: q.questions,
          answers,
        } as packet.Packet),
        r.port,
        r.address,
      );
    });
    await new Promise<void>((ok) => upstream.bind(0, '127.0.0.1', () => ok()));
    server = new DnsServer({
      host: '127.0.0.1',
      port: 0,
      resolve: (name, type) => resolve(current, name, type),
      upstream: { host: '127.0.0.1', port: upstream.address().port },
    });
    await server.start();
    resolver.setServers([`127.0.0.1:${server.port}`]);
  });

  after(async () => {
    await server.stop();
    upstream.close();
  });

  it('answers A and SRV over UDP, NXDOMAIN as ENOTFOUND, and forwards other names', async () => {
    assert.deepEqual(await resolver.resolve4('web.shop.svc.cluster.local'), ['10.0.5.5']);
    assert.deepEqual(await resolver.resolveSrv('_http._tcp.web.shop.svc.cluster.local'), [
      { name: 'web.shop.svc.cluster.local', port: 80, priority: 0, weight: 100 },
    ]);
    await assert.rejects(resolver.resolve4('nope.shop.svc.cluster.local'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolve6('web.shop.svc.cluster.local'), { code: 'ENODATA' });
    assert.deepEqual(await resolver.resolve4('example.com'), ['192.0.2.1']);
  });

  it('answers reverse lookups (PTR) for cluster addresses, and relays the others', async () => {
    assert.deepEqual(await resolver.reverse('10.0.5.5'), ['web.shop.svc.cluster.local']);
    assert.deepEqual(await resolver.reverse('10.244.1.8'), ['10-244-1-8.db.shop.svc.cluster.local']);
  });

  // RFC 6891 §6.1.1: a responder includes an OPT record when the request had one; §6.1.3: an unknown EDNS
  // version gets BADVERS (extended rcode 16: 1 in the OPT record's upper bits, 0 in the header).
  it('EDNS0: an OPT record in the reply when the query had one; BADVERS for version 1; none without', async () => {
    const query = async (additionals: packet.Answer[]) =>
      packet.decode(
        (await server.answer(
          packet.encode({
            id: 9,
            type: 'query',
            flags: packet.RECURSION_DESIRED,
            questions: [{ type: 'A', name: 'web.shop.svc.cluster.local' }],
            additionals,
          } as packet.Packet),
          'udp',
        )) as Buffer,
      );
    const opt = (ednsVersion: number) =>
      ({ type: 'OPT', name: '.', udpPayloadSize: 4096, ednsVersion, flags: 0 }) as unknown as packet.Answer;
    const withOpt = await query([opt(0)]);
    assert.deepEqual(
      withOpt.answers?.map((a) => (a as { data: unknown }).data),
      ['10.0.5.5'],
    );
    const back = withOpt.additionals?.find((a) => a.type === 'OPT') as unknown as Record<string, number>;
    assert.ok(back, 'an OPT record comes back');
    assert.deepEqual([back.udpPayloadSize, back.ednsVersion, back.extendedRcode], [EDNS_UDP_SIZE, 0, 0]);
    const badvers = await query([opt(1)]);
    const bad = badvers.additionals?.find((a) => a.type === 'OPT') as unknown as Record<string, number>;
    assert.deepEqual([(badvers.flags ?? 0) & 0xf, bad?.extendedRcode, badvers.answers?.length], [0, 1, 0]);
    const plain = await query([]);
    assert.deepEqual([plain.answers?.length, plain.additionals?.length], [1, 0]);
  });

  it('follows Service changes live', async () => {
    current = {
      ...world,
      services: [
        ...world.services,
        svc('new', {
          clusterIP: '10.0.9.9',
          clusterIPs: ['10.0.9.9'],
          selector: { a: 'b' },
          ports: [{ port: 1 }],
        }),
      ],
    };
    assert.deepEqual(await resolver.resolve4('new.shop.svc.cluster.local'), ['10.0.9.9']);
    current = world;
    await assert.rejects(resolver.resolve4('new.shop.svc.cluster.local'), { code: 'ENOTFOUND' });
  });

  it('answers over TCP (2-byte length framing), and truncates a UDP answer that does not fit 512 bytes', async () => {
    const many = Array.from({ length: 60 }, (_, i) => ep(`p${i}`, `10.244.2.${i + 1}`, { app: 'big' }));
    current = {
      services: [
        svc('big', {
          clusterIP: 'None',
          clusterIPs: ['None'],
          selector: { app: 'big' },
          ports: [{ port: 80 }],
        }),
      ],
      endpoints: many,
    };
    const query = packet.encode({
      id: 7,
      type: 'query',
      flags: packet.RECURSION_DESIRED,
      questions: [{ type: 'A', name: 'big.shop.svc.cluster.local' }],
    } as packet.Packet);
    const udp = packet.decode((await server.answer(query, 'udp')) as Buffer);
    assert.ok(((udp.flags ?? 0) & packet.TRUNCATED_RESPONSE) !== 0, 'TC set');
    assert.equal(udp.answers?.length, 0);
    const reply = await new Promise<Buffer>((ok, fail) => {
      const sock = net.connect(server.port, '127.0.0.1', () =>
        sock.write(packet.streamEncode(packet.decode(query))),
      );
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          sock.end();
          ok(buf);
        }
      });
      sock.on('error', fail);
    });
    const tcp = packet.streamDecode(reply);
    assert.equal(tcp.id, 7);
    assert.equal(tcp.answers?.length, 60);
    current = world;
  });

  it('survives fuzzed packets: 20,000 random and mutated messages, then still answers', async () => {
    const valid = packet.encode({
      id: 1,
      type: 'query',
      questions: [{ type: 'A', name: 'web.shop.svc.cluster.local' }],
    } as packet.Packet);
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let i = 0; i < 20_000; i++) {
      const msg = i % 2 === 0 ? Buffer.from(valid) : Buffer.alloc(Math.floor(rnd() * 80));
      const flips = 1 + Math.floor(rnd() * 6);
      for (let k = 0; k < flips && msg.length > 0; k++)
        msg[Math.floor(rnd() * msg.length)] = Math.floor(rnd() * 256);
      const reply = await server.answer(
        i % 3 === 0 ? msg.subarray(0, Math.floor(rnd() * msg.length)) : msg,
        'udp',
      );
      if (reply) assert.ok(reply.length >= 12, 'every reply has a header');
    }
    const garbage = Buffer.from('not a dns message at all, just bytes');
    const formerr = (await server.answer(garbage, 'udp')) as Buffer;
    assert.equal(formerr[3] & 0x0f, 1, 'FORMERR');
    assert.deepEqual(await resolver.resolve4('web.shop.svc.cluster.local'), ['10.0.5.5']);
  });
});
