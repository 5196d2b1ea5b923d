/**
 * The CNI endpoint on the agent's unix socket, `/v1/cni`, in two framings of the same request: the body is the
 * plugin's stdin, the CNI_* environment comes as `X-Cni-*` headers (`X-Cni-Containerid` → `CNI_CONTAINERID`),
 * and the answer is an HTTP response whose body is the plugin's stdout (200 = exit 0, any other status exit 1
 * with the error object).
 * - `POST /v1/cni` with a Content-Length: for any HTTP client (curl, tools, tests).
 * - `POST /v1/cni` with `Connection: Upgrade`, `Upgrade: podnet-cni`: what `bin/podnet-cni` sends. The body
 *   follows the headers as a raw stream that ends when the client half-closes, so the shell shim streams stdin
 *   without reading it first to count its bytes (see docs/cni.md, "The shim").
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { handleCni } from './handler.js';
import { decodeStdin, renderError } from './protocol.js';
import {
  CNI_CODE,
  type CniEnv,
  CniError,
  type CniRequest,
  type CniResponse,
  type NodeRuntime,
} from './types.js';

export { handleCni } from './handler.js';

/** Configs are a few KiB; anything far larger is not a CNI request. */
const MAX_BODY = 1 << 20;
/** A streamed request that has not ended by then is dropped (the HTTP server's own request timeout). */
const STREAM_TIMEOUT_MS = 30_000;
/** The `Upgrade` token of the shim's streamed request. */
export const CNI_UPGRADE = 'podnet-cni';

/** The CNI_* variables carried by `X-Cni-*` headers. */
export function envFromHeaders(headers: IncomingMessage['headers']): CniEnv {
  const env: CniEnv = {};
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith('x-cni-') && typeof v === 'string') env[`CNI_${k.slice(6).toUpperCase()}`] = v;
  }
  return env;
}

/** Told about every answered call (the agent logs it and counts it), with how long it took in seconds. */
export type CniObserver = (req: CniRequest, res: CniResponse, seconds: number) => void;

interface Answer {
  status: number;
  body: string;
}

/** Collects a request body up to MAX_BODY (counting, not keeping, what comes after). */
function bodyCollector() {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    add(c: Buffer) {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    },
    /** The CNI answer to this body and the request's headers. */
    answer(node: NodeRuntime, headers: IncomingMessage['headers'], observe: CniObserver): Promise<Answer> {
      if (size > MAX_BODY) {
        const e = new CniError(CNI_CODE.ioFailure, 'CNI config on stdin is larger than 1 MiB');
        return Promise.resolve({ status: 413, body: renderError(e, '1.1.0') });
      }
      let stdin: string;
      try {
        stdin = decodeStdin(Buffer.concat(chunks));
      } catch (e) {
        return Promise.resolve({ status: 400, body: renderError(e as CniError, '1.1.0') });
      }
      const call = { env: envFromHeaders(headers), stdin };
      const started = performance.now();
      return handleCni(call, node).then(
        (r) => {
          observe(call, r, (performance.now() - started) / 1000);
          return { status: r.exitCode === 0 ? 200 : 400, body: r.stdout };
        },
        // handleCni renders its own failures; this only guards against a bug escaping it.
        (e) => ({ status: 500, body: renderError(new CniError(CNI_CODE.internal, String(e)), '1.1.0') }),
      );
    },
  };
}

function methodRefusal(): Answer {
  return {
    status: 405,
    body: renderError(new CniError(CNI_CODE.invalidConfig, 'POST the CNI request to /v1/cni'), '1.1.0'),
  };
}

/** `POST /v1/cni` with a Content-Length body. */
export function cniHttpHandler(
  node: NodeRuntime,
  observe: CniObserver = () => {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const reply = ({ status, body }: Answer) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (req.method !== 'POST') {
      reply(methodRefusal());
      return;
    }
    const body = bodyCollector();
    req.on('data', (c: Buffer) => body.add(c));
    req.on('error', () => res.destroy());
    req.on('end', () => body.answer(node, req.headers, observe).then(reply));
  };
}

/**
 * The server's `upgrade` listener: serves the shim's streamed `/v1/cni` request (stdin until the client
 * half-closes; the HTTP server keeps such sockets half-open) and answers 404 to any other upgrade.
 */
export function cniUpgradeHandler(
  node: NodeRuntime,
  observe: CniObserver = () => {},
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const reply = ({ status, body }: Answer) => {
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    socket.on('error', () => socket.destroy());
    const timer = setTimeout(() => socket.destroy(), STREAM_TIMEOUT_MS);
    socket.on('close', () => clearTimeout(timer));
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/v1/cni' || req.headers.upgrade?.toLowerCase() !== CNI_UPGRADE) {
      reply({ status: 404, body: '' });
      return;
    }
    if (req.method !== 'POST') {
      reply(methodRefusal());
      return;
    }
    const body = bodyCollector();
    body.add(head);
    socket.on('data', (c: Buffer) => body.add(c));
    socket.on('end', () => body.answer(node, req.headers, observe).then(reply));
  };
}
