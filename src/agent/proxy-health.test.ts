/**
 * The node's health check listeners (kube-proxy's pkg/proxy/healthcheck): the proxy's /healthz, and one
 * listener per health check node port that opens when a Local LoadBalancer Service appears, answers with the
 * current local endpoint count, and closes when the Service goes. Loopback ports only, no root.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { ProxyHealthServers } from './proxy-health.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

const fetch = (port: number, path = '/healthz') =>
  new Promise<{ status: number; body: string } | null>((resolve) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', () => resolve(null));
  });

const until = async <T>(probe: () => Promise<T | null>, ok: (v: T | null) => boolean) => {
  for (let i = 0; i < 50; i++) {
    const v = await probe();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  return probe();
};

describe('the health check listeners', () => {
  let healthy = true;
  const servers = new ProxyHealthServers({
    healthy: () => healthy,
    lastUpdated: () => new Date(0),
    log: { warn: () => {} },
    host: '127.0.0.1',
  });
  after(() => servers.stop());

  it('answers the proxy /healthz with 200 while healthy, 503 after, 404 elsewhere', async () => {
    const port = await freePort();
    servers.startProxy(port);
    assert.equal(
      (
        await until(
          () => fetch(port),
          (r) => r !== null,
        )
      )?.status,
      200,
    );
    assert.equal((await fetch(port, '/other'))?.status, 404);
    healthy = false;
    assert.equal((await fetch(port))?.status, 503);
    healthy = true;
  });

  it('opens a health check node port per Service, follows its count, and closes it when it goes', async () => {
    const port = await freePort();
    servers.sync([{ port, namespace: 'shop', name: 'api', localEndpoints: 0 }]);
    const none = await until(
      () => fetch(port),
      (r) => r !== null,
    );
    assert.equal(none?.status, 503);
    assert.equal(JSON.parse(none?.body ?? '{}').localEndpoints, 0);
    servers.sync([{ port, namespace: 'shop', name: 'api', localEndpoints: 2 }]);
    const two = await fetch(port);
    assert.equal(two?.status, 200);
    assert.equal(JSON.parse(two?.body ?? '{}').localEndpoints, 2);
    servers.sync([]);
    assert.equal(
      await until(
        () => fetch(port),
        (r) => r === null,
      ),
      null,
      'the listener is closed',
    );
  });
});
