/**
 * The agent's local API over a root-only unix socket: health, readiness, status, and the CNI endpoint that the
 * `podnet-cni` shim forwards every plugin call to. Metrics go on a separate socket or loopback port, so a
 * scraper never needs access to the CNI socket.
 */
import { mkdirSync } from 'node:fs';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Registry } from 'prom-client';
import { cniHttpHandler, cniUpgradeHandler } from '../cni/http.js';
import { PodnetError, asPodnetError } from '../errors/index.js';
import { cniObserver } from './cni-log.js';
import { type Logger, errFields, throttledWarn } from './log.js';
import type { NodeAgent } from './node-agent.js';

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function errorBody(e: PodnetError): {
  error: { code: string; message: string; field?: string; hint?: string };
} {
  return { error: { code: e.code, message: e.message, field: e.field, hint: e.hint } };
}

/** Request handler for the agent API (exported for tests; `serveAgentApi` binds it to the socket). */
export function agentApiHandler(
  agent: NodeAgent,
  log: Logger,
): (req: IncomingMessage, res: ServerResponse) => void {
  const cni = cniHttpHandler(agent.runtime(), cniObserver(log, agent.metrics));
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/v1/cni') {
        cni(req, res);
        return;
      }
      if (req.method !== 'GET') {
        json(
          res,
          405,
          errorBody(new PodnetError('MethodNotAllowed', `${req.method} is not allowed on ${path}`)),
        );
        return;
      }
      switch (path) {
        case '/healthz':
          // Process alive and the store answered its last call; a store outage does not touch running pods.
          if (agent.healthy) json(res, 200, { status: 'ok' });
          else json(res, 503, { status: 'unhealthy', store: agent.storeProblem ?? 'agent stopping' });
          return;
        case '/readyz':
          json(res, agent.ready ? 200 : 503, {
            status: agent.ready ? 'ready' : 'not ready',
            ...readiness(agent),
          });
          return;
        case '/v1/status':
          json(res, 200, agent.status());
          return;
        default:
          json(
            res,
            404,
            errorBody(
              new PodnetError('NotFound', `no such endpoint ${path}`, {
                hint: 'endpoints: GET /healthz, /readyz, /v1/status; POST /v1/cni',
              }),
            ),
          );
      }
    } catch (err) {
      // A bug in one request must not take the node's pod networking down with it.
      log.error(errFields(err), 'api request failed');
      if (!res.headersSent) json(res, 500, errorBody(asPodnetError(err)));
      else res.destroy();
    }
  };
}

function readiness(agent: NodeAgent): { block: string | null; lastReconcile: string | null } {
  const s = agent.status();
  return { block: s.block, lastReconcile: s.lastReconcile?.result ?? null };
}

/**
 * Removes a socket file left by an agent that died; refuses when a live agent still answers on it, so a second
 * agent never steals the socket of a running one.
 */
async function clearStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => null);
  if (!st) return;
  if (!st.isSocket()) {
    throw new PodnetError('SocketPathInUse', `${path} exists and is not a socket`, {
      field: '--socket',
      hint: 'choose another --socket path or remove the file',
    });
  }
  const live = await new Promise<boolean>((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) {
    throw new PodnetError('AgentAlreadyRunning', `an agent already serves ${path}`, {
      field: '--socket',
      hint: 'stop the running agent first, or give this one another --socket',
    });
  }
  await unlink(path);
}

/** Listens on a unix socket readable and writable by root only (mode 0600). */
export async function listenUnix(server: Server, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  await clearStaleSocket(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
}

function hardenServer(server: Server, log: Logger): Server {
  // Malformed HTTP: answer 400 and drop the connection; nothing reaches a handler, nothing throws.
  const warn = throttledWarn(log, 'malformed request');
  server.on('clientError', (err, socket) => {
    warn(errFields(err));
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return server;
}

export async function serveAgentApi(agent: NodeAgent, socketPath: string, log: Logger): Promise<Server> {
  const server = hardenServer(createServer(agentApiHandler(agent, log)), log);
  // The shim's streamed CNI request (src/cni/http.ts).
  server.on('upgrade', cniUpgradeHandler(agent.runtime(), cniObserver(log, agent.metrics)));
  await listenUnix(server, socketPath);
  return server;
}

/** Prometheus exposition on `GET /metrics`, on a unix socket or on 127.0.0.1:port. */
export async function serveMetrics(
  registry: Registry,
  where: { socket: string } | { port: number },
  log: Logger,
): Promise<Server> {
  const server = hardenServer(
    createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        json(res, 404, errorBody(new PodnetError('NotFound', 'metrics are served on GET /metrics')));
        return;
      }
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err) => json(res, 500, errorBody(asPodnetError(err))),
      );
    }),
    log,
  );
  if ('socket' in where) await listenUnix(server, where.socket);
  else {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(
          new PodnetError('MetricsPortInUse', `cannot listen on 127.0.0.1:${where.port}: ${e.message}`, {
            field: '--metrics-port',
            hint: 'choose a free port or use --metrics-socket',
          }),
        ),
      );
      server.listen(where.port, '127.0.0.1', () => resolve());
    });
  }
  return server;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
