/**
 * Runs the test agent as its own process, e.g. inside a node namespace exactly like the real agent:
 * `nsenter --net=/run/netns/NODE node dist/src/cni/testing/test-agent-main.js SOCKET BLOCK [MAXPODS]`
 * (the pod IPAM file is SOCKET.pod-ipam.db).
 * Prints `ready` when it listens; stops on SIGTERM.
 */
import { openPodIpam } from '../../ipam/pod-ipam.js';
import { startTestAgent } from './test-agent.js';

const [socket, block, maxPods] = process.argv.slice(2);
const agent = await startTestAgent({
  socket,
  nodeName: 'bench-node',
  ipam: openPodIpam({ path: `${socket}.pod-ipam.db`, block, maxPods: Number(maxPods ?? 250) }),
  podCidrs: [block],
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  agent.close().then(() => process.exit(0));
});
