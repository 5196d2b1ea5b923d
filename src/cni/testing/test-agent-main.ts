/**
 * Runs the test agent as its own process, e.g. inside a node namespace exactly like the real agent:
 * `nsenter --net=/run/netns/NODE node dist/src/cni/testing/test-agent-main.js SOCKET BLOCK [MAXPODS]`.
 * Prints `ready` when it listens; stops on SIGTERM.
 */
import { memoryPodIpam } from './memory-ipam.js';
import { startTestAgent } from './test-agent.js';

const [socket, block, maxPods] = process.argv.slice(2);
const agent = await startTestAgent({
  socket,
  nodeName: 'bench-node',
  ipam: memoryPodIpam(block, Number(maxPods ?? 250)),
  podCidrs: [block],
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  agent.close().then(() => process.exit(0));
});
