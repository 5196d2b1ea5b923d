/**
 * A child process for the concurrency tests: opens a store or a pod address file, prints `ready`, waits for
 * `go` on stdin (so all children act at the same moment), then acts and prints one JSON line per confirmed
 * result (modules load lazily: a pod-address child must not pay for the etcd client). Storm modes loop until killed, printing each result only after it was committed.
 *
 *   node worker.js claim STORE_URL NODE            one block claim
 *   node worker.js claim-storm STORE_URL PREFIX    claims for PREFIX-0, PREFIX-1, ... until killed
 *   node worker.js alloc PATH BLOCK MAXPODS ID     one pod address
 *   node worker.js alloc-storm PATH BLOCK MAXPODS PREFIX   addresses for PREFIX-0, ... until killed or full
 *   node worker.js kv-put STORE_URL KEY COUNT      COUNT versioned-store puts of KEY-0, KEY-1, ... (revisions printed)
 */
import { createInterface } from 'node:readline';
import { asPodnetError } from '../../errors/index.js';

const [mode, ...args] = process.argv.slice(2);
const say = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);
const fail = (e: unknown) => {
  const p = asPodnetError(e);
  return { error: p.code, retryable: p.retryable, message: p.message };
};

async function go(): Promise<void> {
  say('ready');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) if (line.trim() === 'go') break;
  rl.close();
}

const req = (nodeName: string) => ({
  nodeName,
  nodeIp: '10.0.0.4',
  pool: 'pool1',
  maxPods: 250,
  ttlSeconds: 3600,
});

if (mode === 'claim' || mode === 'claim-storm') {
  const [url, name] = args;
  const { openStore } = await import('../open.js');
  const store = await openStore(url);
  await go();
  if (mode === 'claim') {
    // As an agent does: a retryable failure (store busy or slow to answer) is tried again, a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        const l = await store.claimBlock(req(name));
        say({ node: l.nodeName, block: l.block, attempts: attempt });
        break;
      } catch (e) {
        if (!asPodnetError(e).retryable || attempt === 3) {
          say({ node: name, ...fail(e) });
          break;
        }
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  } else {
    for (let i = 0; ; i++) {
      try {
        const l = await store.claimBlock(req(`${name}-${i}`));
        say({ node: l.nodeName, block: l.block });
      } catch (e) {
        say({ node: `${name}-${i}`, ...fail(e) });
        if (asPodnetError(e).code === 'PodCidrExhausted') break;
      }
    }
  }
  await store.close();
} else if (mode === 'alloc' || mode === 'alloc-storm') {
  const [path, block, maxPods, id] = args;
  const { openPodIpam } = await import('../../ipam/pod-ipam.js');
  const ipam = openPodIpam({ path, block, maxPods: Number(maxPods) });
  await go();
  if (mode === 'alloc') {
    try {
      say({ containerId: id, ip: ipam.allocate({ containerId: id, ifname: 'eth0' }).ip });
    } catch (e) {
      say({ containerId: id, ...fail(e) });
    }
  } else {
    for (let i = 0; ; i++) {
      try {
        say({
          containerId: `${id}-${i}`,
          ip: ipam.allocate({ containerId: `${id}-${i}`, ifname: 'eth0' }).ip,
        });
        // Churn: release every other address again, so the storm never fills the block.
        if (i % 2 === 1) say({ released: `${id}-${i}`, ip: ipam.release(`${id}-${i}`, 'eth0')?.ip });
      } catch (e) {
        say({ containerId: `${id}-${i}`, ...fail(e) });
        if (asPodnetError(e).code === 'MaxPodsReached') break;
      }
    }
  }
  ipam.close();
} else if (mode === 'kv-put') {
  const [url, key, count] = args;
  const { openVersionedStore } = await import('../open.js');
  const store = await openVersionedStore(url);
  await go();
  for (let i = 0; i < Number(count); i++) {
    const res = await store.txn([], [{ type: 'put', key: `${key}-${i}`, value: JSON.stringify(i) }]);
    say({ key: `${key}-${i}`, revision: res.revision });
  }
  await store.close();
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exitCode = 2;
}
