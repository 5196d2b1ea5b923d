/**
 * The cluster DNS server: UDP and TCP on one address, answers from `records.ts` for the cluster zone, every
 * other name relayed to an upstream resolver (a new query id per relay, mapped back). The wire format is
 * dns-packet's (a maintained codec); framing, truncation and the relay are here:
 *
 * - UDP answers larger than the client's size (512 bytes, or its EDNS0 UDP size) are sent truncated (TC, no
 *   records) so the client retries over TCP, where messages carry a 2-byte length.
 * - A packet that does not decode gets FORMERR when its header is readable, else nothing: malformed input never
 *   stops the server (fuzz-tested).
 * - The records are read on every query through `resolve`, so answers follow Service changes live.
 * - EDNS0 (RFC 6891): a query with an OPT record gets one back (6.1.1), advertising 1232 bytes, the size DNS
 *   Flag Day 2020 settled on to avoid IP fragmentation; a version other than 0 gets BADVERS (6.1.3). No DNSSEC:
 *   the DO bit is not set in replies (RFC 4035 3.2.1, for a server that is not security-aware).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';
import { DEFAULT_ZONE, type Resolution, soaOf } from './records.js';

export interface DnsServerOptions {
  host: string;
  port: number;
  /**
   * The answer to one question, read on every query: the cluster's records (`records.ts` over the live
   * Services) or a fixed zone's (`outside.ts`); `forward` relays the query upstream.
   */
  resolve: (qname: string, qtype: string) => Resolution;
  /** The zone whose SOA negative answers carry. */
  zone?: string;
  /** Where names outside the zone go: `host:port` of a resolver; none = REFUSED. */
  upstream?: { host: string; port: number };
  /** How long a relayed query waits for the upstream. */
  upstreamTimeoutMs?: number;
}

const UDP_DEFAULT_SIZE = 512;
/** The UDP payload size this server advertises in its OPT record. */
export const EDNS_UDP_SIZE = 1232;
/** BADVERS (16): its upper 8 bits go in the OPT record's extended rcode, the lower 4 (0) in the header. */
const BADVERS_EXTENDED = 16 >> 4;
/** dns-packet reads the rcode from the flags' low 4 bits but does not write its `rcode` field: set them here. */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const HEADER = 12;

export class DnsServer {
  private udp: dgram.Socket | null = null;
  private tcp: net.Server | null = null;
  private relay: dgram.Socket | null = null;
  private readonly pending = new Map<
    number,
    { id: number; done: (reply: Buffer | null) => void; timer: NodeJS.Timeout }
  >();
  private nextId = 1;

  constructor(private readonly o: DnsServerOptions) {}

  async start(): Promise<void> {
    const family = this.o.host.includes(':') ? 'udp6' : 'udp4';
    this.udp = dgram.createSocket({ type: family, reuseAddr: true });
    this.udp.on('message', (msg, rinfo) => {
      void this.answer(msg, 'udp').then((reply) => {
        if (reply) this.udp?.send(reply, rinfo.port, rinfo.address);
      });
    });
    await new Promise<void>((ok, fail) => {
      this.udp?.once('error', fail);
      this.udp?.bind(this.o.port, this.o.host, () => ok());
    });
    this.tcp = net.createServer((sock) => this.serveTcp(sock));
    await new Promise<void>((ok, fail) => {
      this.tcp?.once('error', fail);
      // The TCP port is the UDP one (the port UDP was given when it asked for any).
      this.tcp?.listen(this.port, this.o.host, () => ok());
    });
    if (this.o.upstream) {
      this.relay = dgram.createSocket(this.o.upstream.host.includes(':') ? 'udp6' : 'udp4');
      this.relay.on('message', (msg) => this.relayed(msg));
      await new Promise<void>((ok) => this.relay?.bind(0, () => ok()));
    }
  }

  /** The bound UDP port (for tests that bind port 0). */
  get port(): number {
    return this.udp?.address().port ?? this.o.port;
  }

  async stop(): Promise<void> {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.done(null);
    }
    this.pending.clear();
    this.udp?.close();
    this.relay?.close();
    await new Promise<void>((ok) => (this.tcp ? this.tcp.close(() => ok()) : ok()));
  }

  private serveTcp(sock: net.Socket): void {
    let buf = Buffer.alloc(0);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        void this.answer(Buffer.from(msg), 'tcp').then((reply) => {
          if (!reply || sock.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(reply.length);
          sock.write(Buffer.concat([len, reply]));
        });
      }
      if (buf.length > 2 + 65535) sock.destroy();
    });
  }

  /** The reply to one query message, or null when there is none to send. */
  async answer(msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | null> {
    let q: packet.Packet;
    try {
      q = packet.decode(msg);
    } catch {
      return msg.length >= HEADER ? formErr(msg) : null;
    }
    if (q.type !== 'query' || !q.questions || q.questions.length !== 1)
      return msg.length >= HEADER ? formErr(msg) : null;
    const question = q.questions[0];
    const zone = this.o.zone ?? DEFAULT_ZONE;
    const edns = optOf(q);
    if (edns && (edns.ednsVersion ?? 0) !== 0) return withRcode(q, 'NOERROR', BADVERS_EXTENDED);
    const r = this.o.resolve(question.name, question.type);
    if (r.kind === 'forward') return this.forward(msg, q);
    const reply: packet.Packet = {
      id: q.id,
      type: 'response',
      flags:
        packet.AUTHORITATIVE_ANSWER |
        ((q.flags ?? 0) & packet.RECURSION_DESIRED) |
        packet.RECURSION_AVAILABLE |
        RCODE[r.rcode],
      questions: [question],
      answers: r.answers as packet.Answer[],
      authorities: r.answers.length === 0 ? [soaOf(zone) as packet.Answer] : [],
      additionals: edns ? [replyOpt()] : [],
    } as packet.Packet;
    const out = packet.encode(reply);
    const limit = transport === 'tcp' ? 65535 : udpSize(q);
    if (out.length <= limit) return out;
    return packet.encode({
      ...reply,
      flags: (reply.flags ?? 0) | packet.TRUNCATED_RESPONSE,
      answers: [],
      authorities: [],
    });
  }

  private forward(msg: Buffer, q: packet.Packet): Promise<Buffer | null> {
    const up = this.o.upstream;
    if (!up || !this.relay) return Promise.resolve(withRcode(q, 'REFUSED'));
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffff) + 1;
    const out = Buffer.from(msg);
    out.writeUInt16BE(id, 0);
    return new Promise((done) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        done(withRcode(q, 'SERVFAIL'));
      }, this.o.upstreamTimeoutMs ?? 2000);
      this.pending.set(id, {
        id: q.id ?? 0,
        timer,
        done: (reply) => done(reply),
      });
      this.relay?.send(out, up.port, up.host);
    });
  }

  private relayed(msg: Buffer): void {
    if (msg.length < HEADER) return;
    const p = this.pending.get(msg.readUInt16BE(0));
    if (!p) return;
    this.pending.delete(msg.readUInt16BE(0));
    clearTimeout(p.timer);
    const reply = Buffer.from(msg);
    reply.writeUInt16BE(p.id, 0);
    p.done(reply);
  }
}

type Opt = { udpPayloadSize?: number; ednsVersion?: number };

/** The query's OPT record (EDNS0), if it has one. */
function optOf(q: packet.Packet): Opt | undefined {
  return (q.additionals ?? []).find((a) => a.type === 'OPT') as Opt | undefined;
}

/** This server's OPT record, for replies to queries that had one. */
function replyOpt(extendedRcode = 0): packet.Answer {
  return {
    type: 'OPT',
    name: '.',
    udpPayloadSize: EDNS_UDP_SIZE,
    extendedRcode,
    ednsVersion: 0,
    flags: 0,
    options: [],
  } as unknown as packet.Answer;
}

function udpSize(q: packet.Packet): number {
  return Math.max(UDP_DEFAULT_SIZE, optOf(q)?.udpPayloadSize ?? UDP_DEFAULT_SIZE);
}

/** FORMERR for a message whose header (id, opcode) is readable but whose body is not. */
function formErr(msg: Buffer): Buffer {
  const out = Buffer.alloc(HEADER);
  msg.copy(out, 0, 0, 4);
  // QR=1, keep opcode and RD, rcode 1 (FORMERR); no records.
  out[2] = (msg[2] & 0x79) | 0x80;
  out[3] = 0x01;
  return out;
}

/** A reply of only a code (and, to an EDNS0 query, an OPT record carrying the code's upper bits). */
function withRcode(q: packet.Packet, rcode: keyof typeof RCODE, extendedRcode = 0): Buffer {
  return packet.encode({
    id: q.id,
    type: 'response',
    flags: packet.RECURSION_AVAILABLE | ((q.flags ?? 0) & packet.RECURSION_DESIRED) | RCODE[rcode],
    questions: q.questions,
    additionals: optOf(q) ? [replyOpt(extendedRcode)] : [],
  } as packet.Packet);
}
