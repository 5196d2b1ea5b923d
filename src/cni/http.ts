/**
 * `POST /v1/cni` on the agent's unix socket: what `bin/podnet-cni` sends. The body is the plugin's stdin; the
 * CNI_* environment comes as `X-Cni-*` headers (`X-Cni-Containerid` → `CNI_CONTAINERID`). The response body is
 * the plugin's stdout; status 200 means exit 0, any other status exit 1 (the body is then the error object).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
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

export function cniHttpHandler(
  node: NodeRuntime,
  observe: CniObserver = () => {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const reply = (status: number, body: string) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (req.method !== 'POST') {
      reply(
        405,
        renderError(new CniError(CNI_CODE.invalidConfig, 'POST the CNI request to /v1/cni'), '1.1.0'),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (size > MAX_BODY) {
        reply(
          413,
          renderError(new CniError(CNI_CODE.ioFailure, 'CNI config on stdin is larger than 1 MiB'), '1.1.0'),
        );
        return;
      }
      let stdin: string;
      try {
        stdin = decodeStdin(Buffer.concat(chunks));
      } catch (e) {
        reply(400, renderError(e as CniError, '1.1.0'));
        return;
      }
      const call = { env: envFromHeaders(req.headers), stdin };
      const started = performance.now();
      handleCni(call, node).then(
        (r) => {
          reply(r.exitCode === 0 ? 200 : 400, r.stdout);
          observe(call, r, (performance.now() - started) / 1000);
        },
        // handleCni renders its own failures; this only guards against a bug escaping it.
        (e) => reply(500, renderError(new CniError(CNI_CODE.internal, String(e)), '1.1.0')),
      );
    });
  };
}
