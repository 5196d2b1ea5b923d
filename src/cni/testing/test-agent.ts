/**
 * A minimal stand-in for `podnet agent` in CNI tests and the benchmark: serves `cniHttpHandler` on a unix
 * socket for one node and its PodIpam. The real agent mounts the same handler.
 */
import { rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { PodIpam } from '../../ipam/types.js';
import { uplinkMtu } from '../../kernel/ip.js';
import { cniHttpHandler, cniUpgradeHandler } from '../http.js';
import type { NodeRuntime } from '../types.js';

/** A NodeRuntime whose lease tests can take away and give back (to exercise code 11 and STATUS 50). */
export type TestNodeRuntime = NodeRuntime & { setIpam(next: PodIpam | null): void };

export interface TestAgent {
  node: TestNodeRuntime;
  socket: string;
  close(): Promise<void>;
}

export interface TestAgentOptions {
  socket: string;
  nodeName: string;
  ipam: PodIpam | null;
  /** A dual-stack node's IPv6 pod IPAM. */
  ipam6?: PodIpam;
  podCidrs: string[];
  /** The node's namespace when this process does not run inside it. */
  nodeNetns?: string;
}

/** A NodeRuntime over a fixed IPAM; the uplink MTU is read once, as the agent caches it. */
export function testNodeRuntime(o: Omit<TestAgentOptions, 'socket'>): TestNodeRuntime {
  let mtu: Promise<number> | undefined;
  let ipam = o.ipam;
  return {
    nodeName: o.nodeName,
    nodeNetns: o.nodeNetns,
    ipam: () => ipam,
    familyIpams: () => [ipam, o.ipam6].filter((i) => i !== null && i !== undefined),
    podCidrs: () => o.podCidrs,
    uplinkMtu: () => {
      mtu ??= uplinkMtu(o.nodeNetns);
      return mtu;
    },
    setIpam(next) {
      ipam = next;
    },
  };
}

export async function startTestAgent(o: TestAgentOptions): Promise<TestAgent> {
  const node = testNodeRuntime(o);
  rmSync(o.socket, { force: true });
  const server: Server = createServer((req, res) => {
    if (req.url === '/v1/cni') cniHttpHandler(node)(req, res);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  server.on('upgrade', cniUpgradeHandler(node));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socket, resolve);
  });
  return {
    node,
    socket: o.socket,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const i of node.familyIpams?.() ?? []) i.close();
        rmSync(o.socket, { force: true });
      }),
  };
}
