/**
 * Starting and stopping a lab pod's responder (responder.ts) inside the pod's namespace. The kernel layer
 * enters the namespace with an exec, so the recorded pid is the responder itself; its command line names the
 * lab folder, so `lab down` finds it even when the state lost it.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnDaemon } from '../kernel/process.js';
import type { LabPod, LabState } from './model.js';
import { stopProcess } from './processes.js';

export function startResponder(state: LabState, pod: LabPod): number {
  const script = fileURLToPath(new URL('./responder.js', import.meta.url));
  const ports = (pod.ports ?? []).map((p) => `${p.protocol ?? 'TCP'}:${p.containerPort}`);
  return spawnDaemon([process.execPath, script, `${state.dir}/`, `${pod.namespace}/${pod.name}`, ...ports], {
    logFile: join(state.dir, `pod-${pod.namespace}.${pod.name}.log`),
    netns: pod.netns,
  });
}

export async function stopResponder(state: LabState, pod: LabPod): Promise<void> {
  if (pod.responderPid !== undefined) await stopProcess(pod.responderPid, `${state.dir}/`);
}
