/**
 * The node's answers to load balancer health probes (src/loadbalancer/health.ts decides them): the proxy's
 * `/healthz` on one port and one listener per health check node port of the Services with
 * `externalTrafficPolicy: Local`, opened and closed as the Services come and go, as kube-proxy's health
 * servers are. Read-only: nothing a probe sends changes anything.
 */
import { type Server, createServer } from 'node:http';
import {
  type HealthReply,
  type ServiceHealthCheck,
  proxyHealthReply,
  serviceHealthReply,
} from '../loadbalancer/health.js';

export interface ProxyHealthDeps {
  /** Whether the node's rules are in force (the agent's last reconcile succeeded). */
  healthy: () => boolean;
  lastUpdated: () => Date | null;
  log: { warn: (o: object, msg: string) => void };
  /** The address listened on; every address by default, as kube-proxy's node port addresses. */
  host?: string;
}

function serve(reply: () => HealthReply): Server {
  return createServer((req, res) => {
    const r = reply();
    res.writeHead(r.status, r.headers);
    res.end(req.method === 'HEAD' ? undefined : r.body);
  });
}

export class ProxyHealthServers {
  private readonly servers = new Map<number, Server>();
  private readonly checks = new Map<number, ServiceHealthCheck>();
  private proxy: Server | null = null;

  constructor(private readonly deps: ProxyHealthDeps) {}

  /** Serves the proxy's `/healthz` (404 elsewhere) on `port`, every address. */
  startProxy(port: number): void {
    const server = createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] !== '/healthz') {
        res.writeHead(404).end();
        return;
      }
      const r = proxyHealthReply(this.deps.healthy(), this.deps.lastUpdated(), new Date());
      res.writeHead(r.status, r.headers);
      res.end(req.method === 'HEAD' ? undefined : r.body);
    });
    this.listen(server, port, 'proxy healthz');
    this.proxy = server;
  }

  /** Makes the listeners those of `checks`: new ports open, gone ones close, counts update in place. */
  sync(checks: ServiceHealthCheck[]): void {
    this.checks.clear();
    for (const c of checks) this.checks.set(c.port, c);
    for (const [port, server] of this.servers)
      if (!this.checks.has(port)) {
        server.close();
        this.servers.delete(port);
      }
    for (const [port, check] of this.checks) {
      if (this.servers.has(port)) continue;
      const server = serve(() => {
        const now = this.checks.get(port) ?? { ...check, localEndpoints: 0 };
        return serviceHealthReply(now, this.deps.healthy());
      });
      this.listen(server, port, `health check node port of ${check.namespace}/${check.name}`);
      this.servers.set(port, server);
    }
  }

  stop(): void {
    this.proxy?.close();
    for (const server of this.servers.values()) server.close();
    this.servers.clear();
  }

  private listen(server: Server, port: number, what: string): void {
    server.on('error', (e) => this.deps.log.warn({ port, err: e.message }, `cannot serve the ${what}`));
    server.listen(port, this.deps.host ?? '0.0.0.0');
  }
}
