import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { CoalescedPass } from '../agent/coalesce.js';
/**
 * The lab kubelet: one daemon per lab (`podnet lab kubelet`, started by `lab up`) that acts as kubelet for
 * every node of the lab. It watches the Pod objects in the cluster store and, level-based, makes the lab's
 * pods match the ones bound to its nodes (`spec.nodeName`): a new object starts a real pod through the CNI
 * path with a responder on its container ports, a deleted one stops it (CNI DEL, namespace removed), and a
 * running pod's status (phase, pod IP, host IP) is reported into its object. Each pass holds the lab lock,
 * so it never races `lab pod add|del` or `lab scale`; a periodic pass retries what failed.
 */
import { agentLogger, daemonLogger, errFields } from '../agent/log.js';
import { objectStoreOf } from '../endpoints/object-store.js';
import type { Pod } from '../objects/types.js';
import { openStore } from '../store/open.js';
import type { VersionedStore, WatchUpdate } from '../store/versioned.js';
import { addLabPod, deleteLabPod } from './lab.js';
import type { LabState } from './model.js';
import { PODS_PREFIX, decodePod, kubeletPlan, podPorts } from './pod-objects.js';
import { reportRunning } from './pod-store.js';
import { requireLab, withLabLock } from './state.js';

const RESYNC_MS = 5000;

export class LabKubelet {
  private readonly objects = new Map<string, Pod>();
  private stopWatch: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly lab: string,
    private readonly kv: VersionedStore,
    private readonly log: Logger = agentLogger('silent'),
  ) {}

  async start(): Promise<void> {
    this.stopWatch = await this.kv.watch(PODS_PREFIX, (u) => this.onUpdate(u));
    this.timer = setInterval(() => this.trigger(), RESYNC_MS);
    this.trigger();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    if (this.timer) clearInterval(this.timer);
    await this.runner.settled();
  }

  /** Resolves when no pass runs or is pending. */
  settled(): Promise<void> {
    return this.runner.settled();
  }

  private onUpdate(u: WatchUpdate): void {
    if (u.type === 'snapshot') this.objects.clear();
    const puts = u.type === 'snapshot' ? u.items : u.events.flatMap((e) => (e.type === 'put' ? [e.kv] : []));
    if (u.type === 'events') for (const e of u.events) if (e.type === 'delete') this.objects.delete(e.key);
    for (const kv of puts) {
      try {
        this.objects.set(kv.key, decodePod(kv));
      } catch (err) {
        this.objects.delete(kv.key);
        this.log.warn({ key: kv.key, ...errFields(err) }, 'not a Pod object; ignored');
      }
    }
    this.trigger();
  }

  private trigger(): void {
    this.runner.request();
  }

  /** One pass under the lab lock; a failure is retried at the next resync (or the next change). */
  private readonly runner = new CoalescedPass(
    async () => {
      try {
        await withLabLock(this.lab, () => this.pass());
      } catch (err) {
        this.log.error(errFields(err), 'kubelet pass failed; retried at the next resync');
      }
      return undefined;
    },
    () => this.stopped,
  );

  private async pass(): Promise<void> {
    const state = requireLab(this.lab);
    const plan = kubeletPlan([...this.objects.values()], state.pods, state.nodes);
    for (const pod of plan.stop) {
      await deleteLabPod(state, pod, this.kv);
      this.log.info({ pod: `${pod.namespace}/${pod.name}`, node: pod.node }, 'pod stopped (object deleted)');
    }
    for (const o of plan.start) {
      const ref = `${o.metadata.namespace}/${o.metadata.name}`;
      try {
        const pod = await addLabPod(
          state,
          o.spec.nodeName as string,
          {
            name: o.metadata.name,
            namespace: o.metadata.namespace,
            labels: o.metadata.labels,
            ports: podPorts(o),
            object: o,
          },
          this.kv,
        );
        this.log.info({ pod: ref, node: pod.node, ip: pod.ip }, 'pod started');
      } catch (err) {
        this.log.error({ pod: ref, ...errFields(err) }, 'pod start failed');
      }
    }
    for (const { pod } of plan.report) {
      const node = state.nodes.find((n) => n.name === pod.node);
      if (node) await reportRunning(this.kv, pod, node);
    }
  }
}

/** `podnet lab kubelet --state FILE`: runs until SIGTERM; idle when the store offers no objects yet. */
export async function runKubelet(statePath: string): Promise<void> {
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as LabState;
  const log = daemonLogger({ component: 'lab-kubelet', cluster: state.name });
  const store = await openStore(state.store.url);
  const kv = objectStoreOf(store);
  const kubelet = kv ? new LabKubelet(state.name, kv, log) : null;
  if (kubelet) await kubelet.start();
  log.info(
    { store: store.url, objects: kv !== null },
    kv ? 'lab kubelet started' : 'the store offers no objects; idle',
  );
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
  });
  await kubelet?.stop();
  await store.close();
  log.info('lab kubelet stopped');
}
