/**
 * Runs the test agent as its own process, e.g. inside a node namespace exactly like the real agent:
 * `nsenter --net=/run/netns/NODE node dist/src/cni/testing/test-agent-main.js SOCKET BLOCK [MAXPODS [BLOCK6]]`
 * (the pod IPAM file is SOCKET.pod-ipam.db; with BLOCK6 the agent is dual-stack, its IPv6 file SOCKET.pod-ipam6.db).
 * Prints `ready` when it listens; stops on SIGTERM.
 */
import { openPodIpam } from '../../ipam/pod-ipam.js';
import { startTestAgent } from './test-agent.js';

const [socket, block, maxPods, block6] = process.argv.slice(2);
const max = Number(maxPods ?? 250);
const agent = await startTestAgent({
  socket,
  nodeName: 'bench-node',
  ipam: openPodIpam({ path: `${socket}.pod-ipam.db`, block, maxPods: max }),
  ...(block6 ? { ipam6: openPodIpam({ path: `${socket}.pod-ipam6.db`, block: block6, maxPods: max }) } : {}),
  podCidrs: block6 ? [block, block6] : [block],
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  agent.close().then(() => process.exit(0));
});
