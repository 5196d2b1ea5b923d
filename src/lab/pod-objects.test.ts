import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import type { Pod } from '../objects/types.js';
import type { LabNode, LabPod } from './model.js';
import {
  decodePod,
  kubeletPlan,
  labPodObject,
  parseLabels,
  podKey,
  podPorts,
  runningStatus,
} from './pod-objects.js';

const node = { name: 'sys-0', ip: '10.224.0.4' } as LabNode;
const labPod = (name: string, uid?: string, ip = '10.244.0.5'): LabPod => ({
  name,
  namespace: 'shop',
  node: 'sys-0',
  netns: `pl-x-pod-shop.${name}`,
  containerId: 'c',
  ip,
  ...(uid ? { uid } : {}),
});
const object = (name: string, uid: string, nodeName = 'sys-0'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', uid },
  spec: { nodeName, containers: [{ name: 'main' }] },
});

describe('lab pods as Pod objects', () => {
  it('a pod the lab starts is a Pod bound to its node, Pending until kubelet reports it Running', () => {
    const o = labPodObject({ name: 'web', namespace: 'shop', labels: { app: 'web' } }, 'sys-0', new Date(0));
    assert.equal(o.spec.nodeName, 'sys-0');
    assert.deepEqual(o.metadata.labels, { app: 'web' });
    assert.equal(
      o.metadata.creationTimestamp,
      '1970-01-01T00:00:00Z',
      'RFC 3339 in seconds, as the API server',
    );
    assert.match(o.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(o.status?.phase, 'Pending');
    assert.deepEqual(runningStatus(labPod('web'), node), {
      phase: 'Running',
      hostIP: '10.224.0.4',
      hostIPs: [{ ip: '10.224.0.4' }],
      podIP: '10.244.0.5',
      podIPs: [{ ip: '10.244.0.5' }],
    });
  });

  it('reads container ports with TCP as the default protocol (Kubernetes defaults it)', () => {
    const o = object('web', 'u');
    o.spec.containers = [
      { name: 'a', ports: [{ containerPort: 80 }, { containerPort: 53, protocol: 'UDP' }] },
      { name: 'b', ports: [{ containerPort: 9000, protocol: 'SCTP' }] },
    ];
    assert.deepEqual(
      podPorts(o).map((p) => `${p.protocol}:${p.containerPort}`),
      ['TCP:80', 'UDP:53', 'SCTP:9000'],
    );
  });

  it('refuses a stored value that is not a Pod under its own key', () => {
    const key = podKey({ namespace: 'shop', name: 'web' });
    assert.equal(decodePod({ key, value: JSON.stringify(object('web', 'u')) }).metadata.uid, 'u');
    for (const value of ['nope', JSON.stringify({ kind: 'Service' }), JSON.stringify(object('other', 'u'))]) {
      assert.throws(
        () => decodePod({ key, value }),
        (e: unknown) => e instanceof PodnetError && e.code === 'StoreCorrupt' && e.field === key,
      );
    }
  });
});

describe('the lab kubelet plan', () => {
  const nodes = [node];
  it('starts objects bound to a lab node, and only those', () => {
    const plan = kubeletPlan([object('web', 'u1'), object('far', 'u2', 'other-node')], [], nodes);
    assert.deepEqual(
      plan.start.map((o) => o.metadata.name),
      ['web'],
    );
  });

  it('stops a pod whose object is gone; leaves pods started without an object store alone', () => {
    const plan = kubeletPlan([], [labPod('web', 'u1'), labPod('old')], nodes);
    assert.deepEqual(
      plan.stop.map((p) => p.name),
      ['web'],
    );
    assert.deepEqual(plan.start, []);
  });

  it('a Pod replaced under the same name (new uid): stop the old pod now, start the new one next pass', () => {
    const first = kubeletPlan([object('web', 'u2')], [labPod('web', 'u1')], nodes);
    assert.deepEqual([first.stop.length, first.start.length], [1, 0]);
    const next = kubeletPlan([object('web', 'u2')], [], nodes);
    assert.equal(next.start.length, 1);
  });

  it('reports status until the object shows it, then nothing', () => {
    const pod = labPod('web', 'u1');
    const o = object('web', 'u1');
    assert.equal(kubeletPlan([o], [pod], nodes).report.length, 1);
    const reported = { ...o, status: runningStatus(pod, node) };
    assert.deepEqual(kubeletPlan([reported], [pod], nodes), { start: [], stop: [], report: [] });
  });
});

describe('--labels', () => {
  it('takes kubectl-style key=value pairs with Kubernetes label syntax', () => {
    assert.deepEqual(parseLabels('app=web,tier=front,example.com/team=a,empty='), {
      app: 'web',
      tier: 'front',
      'example.com/team': 'a',
      empty: '',
    });
    assert.deepEqual(parseLabels(''), {});
  });

  it('refuses what the API server refuses (k8s.io/apimachinery/pkg/util/validation), naming the flag', () => {
    for (const bad of [
      'app',
      '-app=x',
      'app=-x',
      `a=${'x'.repeat(64)}`,
      'Example.com/a=b',
      'a=b,a=c',
      'a b=c',
    ]) {
      assert.throws(
        () => parseLabels(bad),
        (e: unknown) => e instanceof PodnetError && e.code === 'InvalidLabel' && e.field === '--labels',
        bad,
      );
    }
  });
});
