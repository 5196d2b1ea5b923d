/**
 * `podnet agent` as a process: opens the store, starts the node agent, serves its API and metrics, and runs
 * until SIGTERM/SIGINT. Stopping keeps the lease and the kernel state, so pods keep working and the next start
 * adopts them (same block, same addresses, same routes).
 */
import type { Server } from 'node:http';
import { kernelDataplane } from '../dataplane/node-dataplane.js';
import { objectStoreOf } from '../endpoints/object-store.js';
import { openPodIpam, podIpamPath } from '../ipam/pod-ipam.js';
import { openStore } from '../store/open.js';
import type { AgentConfig } from './config.js';
import { NodeDns } from './dns.js';
import { type Logger, agentLogger, errFields } from './log.js';
import { NodeAgent } from './node-agent.js';
import { closeServer, serveAgentApi, serveMetrics } from './server.js';

/** Runs the agent until `stopSignal` fires (default: SIGTERM or SIGINT of this process). */
export async function runAgent(
  cfg: AgentConfig,
  opts: { log?: Logger; stopSignal?: Promise<unknown> } = {},
): Promise<void> {
  const log = (opts.log ?? agentLogger(cfg.logLevel)).child({ node: cfg.node });
  const store = await openStore(cfg.store);
  const agent = new NodeAgent(cfg, {
    store,
    openIpam: (block, maxPods) =>
      openPodIpam({ path: podIpamPath(cfg.stateDir, cfg.node, block.includes(':') ? 6 : 4), block, maxPods }),
    dataplane: kernelDataplane(),
    log,
    objects: objectStoreOf(store),
    ...(cfg.clusterDns ? { clusterDns: new NodeDns({ upstream: cfg.clusterDns.upstream }) } : {}),
  });
  const servers: Server[] = [];
  try {
    // The socket first: a second agent for the same socket fails before touching the lease or the kernel.
    servers.push(await serveAgentApi(agent, cfg.socket, log));
    if (cfg.metrics) servers.push(await serveMetrics(agent.metrics.registry, cfg.metrics, log));
    await agent.start();
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    await agent.stop();
    throw err;
  }
  log.info({ socket: cfg.socket, netns: cfg.netns ?? undefined }, 'serving');
  await (opts.stopSignal ?? terminationSignal());
  log.info({}, 'stopping; lease and dataplane stay for the next start');
  await Promise.all(servers.map(closeServer));
  await agent.stop().catch((err) => log.warn(errFields(err), 'store close failed'));
}

/** Resolves on the first SIGTERM or SIGINT. */
export function terminationSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve(sig);
    };
    const onTerm = () => on('SIGTERM');
    const onInt = () => on('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

/**
 * Resolves when the process that started this one is gone (this process was re-parented). The agent re-executed
 * inside a namespace lives only as long as the command that started it, so a killed parent leaves no orphan.
 */
export function parentGone(checkMs = 1000): Promise<string> {
  const parent = process.ppid;
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (process.ppid !== parent) {
        clearInterval(t);
        resolve('parent gone');
      }
    }, checkMs);
    t.unref();
  });
}
