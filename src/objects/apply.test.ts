/**
 * Apply decided without a store: validation as pkg/apis/core/validation (ValidatePodCreate, ValidateObjectMeta),
 * defaults as pkg/apis/core/v1/defaults.go, and the plan: created/configured/unchanged, namespaces that must
 * exist, stale resourceVersion, immutable fields (ValidatePodUpdate), etcd's 128-operation limit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import type { KeyValue } from '../store/versioned.js';
import { type Candidate, SYSTEM_NAMESPACES, applyReads, planApply, prepareApply } from './apply.js';
import type { Document } from './decode.js';
import { defaultPullPolicy } from './kinds/pod.js';
import { MAX_TXN_OPS } from './limits.js';
import { type KubeObject, type Pod, fromStored } from './types.js';

const facts = () => ({
  uid: '11111111-2222-4333-8444-555555555555',
  creationTimestamp: '2026-01-02T03:04:05Z',
});

function docs(...values: unknown[]): Document[] {
  return values.map((value, index) => ({ source: { file: 'm.yaml', index }, value }));
}

function pod(name: string, extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...extra },
    spec: {
      containers: [{ name: 'app', image: 'nginx:1.27', ports: [{ containerPort: 80, name: 'http' }] }],
      ...spec,
    },
  };
}

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

/** A store state after committing `plan` at `revision`, as the backend would keep it. */
function commit(state: Map<string, KeyValue | null>, plan: ReturnType<typeof planApply>, revision: number) {
  for (const op of plan.ops) {
    if (op.type === 'put') {
      const old = state.get(op.key);
      state.set(op.key, {
        key: op.key,
        value: op.value,
        createRevision: old?.createRevision ?? revision,
        modRevision: revision,
        lease: null,
      });
    }
  }
}

function run(state: Map<string, KeyValue | null>, ...values: unknown[]) {
  const prepared = prepareApply(docs(...values));
  assert.deepEqual(prepared.problems, [], 'documents are valid');
  const current = new Map(applyReads(prepared.candidates).map((k) => [k, state.get(k) ?? null]));
  return { prepared, plan: planApply(prepared.candidates, current, facts) };
}

function problemsOf(...values: unknown[]) {
  return prepareApply(docs(...values)).problems.map((p) => `${p.field}: ${p.type}`);
}

describe('validation (pkg/apis/core/validation)', () => {
  it('a valid pod and namespace have no problems', () => {
    assert.deepEqual(problemsOf(ns('team-a'), pod('web-1.a')), []);
  });
  it('refuses unknown fields with the nearest known one', () => {
    const p = prepareApply(docs({ ...pod('web'), spec: { contianers: [] } })).problems;
    assert.equal(p[0].field, 'spec.contianers');
    assert.match(p[0].message, /unknown field "contianers", did you mean "containers"\?/);
    assert.equal(p[0].hint, 'rename it to containers');
  });
  it('names the document, the field path and the rule of every problem at once', () => {
    const bad = pod(
      'web',
      {},
      {
        containers: [
          {
            name: 'a',
            image: 'x',
            ports: [{ containerPort: 80 }, { containerPort: 0, protocol: 'HTTP', name: 'A_B' }],
          },
          {
            name: 'a',
            image: 'x',
            ports: [
              { containerPort: 81, name: 'http' },
              { containerPort: 82, name: 'http' },
            ],
          },
        ],
        nodeName: 'Node_1',
      },
    );
    const p = prepareApply(docs(ns('ok'), bad));
    assert.deepEqual(
      p.problems.map((x) => `${x.source.index} ${x.field}: ${x.type}`),
      [
        // "A_B": outside the charset, and no lower-case letter: IsValidPortName's two messages.
        '1 spec.containers[0].ports[1].name: Invalid',
        '1 spec.containers[0].ports[1].name: Invalid',
        '1 spec.containers[0].ports[1].containerPort: Required',
        '1 spec.containers[0].ports[1].protocol: NotSupported',
        '1 spec.containers[1].name: Duplicate',
        '1 spec.containers[1].ports[1].name: Duplicate',
        '1 spec.nodeName: Invalid',
      ],
    );
    assert.equal(
      p.problems[3].message,
      'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    );
  });
  it('object names: pods DNS-1123 subdomains, namespaces DNS-1123 labels', () => {
    assert.deepEqual(problemsOf(pod('web.v1')), []);
    assert.deepEqual(problemsOf(ns('team.a')), ['metadata.name: Invalid']);
    assert.deepEqual(problemsOf(pod('Web')), ['metadata.name: Invalid']);
    assert.deepEqual(problemsOf({ apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { containers: [] } }), [
      'metadata.name: Required',
      'spec.containers: Required',
    ]);
  });
  it('labels, label values and the 256 KiB annotation limit', () => {
    assert.deepEqual(problemsOf(pod('w', { labels: { 'app.kubernetes.io/name': 'web', empty: '' } })), []);
    assert.deepEqual(problemsOf(pod('w', { labels: { 'a/b/c': 'x', ok: 'bad value' } })), [
      'metadata.labels: Invalid',
      'metadata.labels: Invalid',
    ]);
    assert.deepEqual(problemsOf(pod('w', { annotations: { big: 'x'.repeat(256 * 1024) } })), [
      'metadata.annotations: TooLong',
    ]);
    assert.deepEqual(problemsOf(pod('w', { annotations: { big: 'x'.repeat(256 * 1024 - 3) } })), []);
  });
  it('wrong types, unknown kinds and -n that contradicts the manifest', () => {
    assert.deepEqual(problemsOf(pod('w', {}, { containers: 'x' })), ['spec.containers: Invalid']);
    assert.deepEqual(problemsOf({ apiVersion: 'v1', kind: 'Pdo', metadata: { name: 'x' } }), [
      'kind: NotSupported',
    ]);
    assert.deepEqual(problemsOf({ kind: 'Pod' }), ['apiVersion: Required']);
    const p = prepareApply(docs(pod('w', { namespace: 'a' })), { namespace: 'b' }).problems;
    assert.match(p[0].message, /the namespace from the provided object "a" does not match the namespace "b"/);
  });
});

describe('defaults (pkg/apis/core/v1/defaults.go) and server-set metadata', () => {
  it('a created pod gets the API server defaults, uid, timestamp and Pending', () => {
    const state = new Map<string, KeyValue | null>();
    const { plan } = run(
      state,
      pod(
        'web',
        {},
        {
          containers: [
            {
              name: 'a',
              image: 'nginx',
              ports: [{ containerPort: 53, protocol: 'UDP' }, { containerPort: 80 }],
            },
          ],
        },
      ),
    );
    const put = plan.ops.find((o) => o.key === 'objects/pods/default/web');
    assert.ok(put && put.type === 'put');
    const p = JSON.parse(put.value) as Pod & { spec: Record<string, unknown> };
    assert.equal(p.metadata.uid, facts().uid);
    assert.equal(p.metadata.creationTimestamp, '2026-01-02T03:04:05Z');
    assert.equal(p.metadata.namespace, 'default');
    assert.equal(p.metadata.resourceVersion, undefined, 'resourceVersion is the mod revision, not stored');
    assert.deepEqual(
      [
        p.spec.restartPolicy,
        p.spec.dnsPolicy,
        p.spec.terminationGracePeriodSeconds,
        p.spec.schedulerName,
        p.spec.enableServiceLinks,
      ],
      ['Always', 'ClusterFirst', 30, 'default-scheduler', true],
    );
    const c = p.spec.containers[0];
    assert.deepEqual(
      [
        c.terminationMessagePath,
        c.terminationMessagePolicy,
        c.imagePullPolicy,
        c.ports?.map((x) => x.protocol),
      ],
      ['/dev/termination-log', 'File', 'Always', ['UDP', 'TCP']],
    );
    assert.deepEqual(p.status, { phase: 'Pending' });
  });
  it('imagePullPolicy: Always for :latest or no tag, else IfNotPresent (SetDefaults_Container)', () => {
    assert.equal(defaultPullPolicy('nginx'), 'Always');
    assert.equal(defaultPullPolicy('nginx:latest'), 'Always');
    assert.equal(defaultPullPolicy('localhost:5000/nginx'), 'Always');
    assert.equal(defaultPullPolicy('localhost:5000/nginx:1.27'), 'IfNotPresent');
    assert.equal(defaultPullPolicy('nginx@sha256:abcd'), 'IfNotPresent');
  });
  it('a namespace gets its name label, the kubernetes finalizer and Active; the system namespaces come with the first apply', () => {
    const { plan } = run(new Map(), ns('team-a'));
    const created = new Map(plan.ops.map((o) => [o.key, o.type === 'put' ? JSON.parse(o.value) : null]));
    const t = created.get('objects/namespaces/team-a');
    assert.deepEqual(t.metadata.labels, { 'kubernetes.io/metadata.name': 'team-a' });
    assert.deepEqual(t.spec, { finalizers: ['kubernetes'] });
    assert.deepEqual(t.status, { phase: 'Active' });
    for (const n of SYSTEM_NAMESPACES) assert.ok(created.has(`objects/namespaces/${n}`), n);
  });
});

describe('planApply', () => {
  it('created, then unchanged (in any key order), then configured', () => {
    const state = new Map<string, KeyValue | null>();
    const first = run(state, ns('a'), pod('web', { namespace: 'a', labels: { app: 'web' } }));
    assert.deepEqual(
      first.plan.outcomes.map((o) => `${o.ref} ${o.action}`),
      ['namespace/a created', 'pod/web created'],
    );
    commit(state, first.plan, 1);
    const reordered = {
      spec: pod('web').spec,
      metadata: { labels: { app: 'web' }, namespace: 'a', name: 'web' },
      kind: 'Pod',
      apiVersion: 'v1',
    };
    const again = run(state, reordered);
    assert.deepEqual(
      again.plan.outcomes.map((o) => o.action),
      ['unchanged'],
    );
    assert.deepEqual(again.plan.ops, []);
    const changed = run(state, pod('web', { namespace: 'a', labels: { app: 'api' } }));
    assert.deepEqual(
      changed.plan.outcomes.map((o) => o.action),
      ['configured'],
    );
    commit(state, changed.plan, 2);
    const stored = fromStored(state.get('objects/pods/a/web') as KeyValue);
    assert.equal(stored.metadata.uid, facts().uid, 'uid kept');
    assert.equal(stored.metadata.resourceVersion, '2');
  });
  it('guards every key it read, so a concurrent change fails the transaction', () => {
    const state = new Map<string, KeyValue | null>();
    commit(state, run(state, ns('a')).plan, 1);
    const { plan } = run(state, pod('web', { namespace: 'a' }));
    assert.deepEqual(
      plan.compares.filter(
        (c) => !c.key.startsWith('objects/namespaces/kube') && c.key !== 'objects/namespaces/default',
      ),
      [
        { key: 'objects/namespaces/a', modRevision: 1 },
        { key: 'objects/pods/a/web', modRevision: 0 },
      ],
    );
  });
  it('a namespace must exist or come earlier in the same apply', () => {
    const missing = run(new Map(), pod('web', { namespace: 'nope' }));
    assert.equal(missing.plan.problems[0].type, 'NotFound');
    assert.match(missing.plan.problems[0].message, /namespaces "nope" not found/);
    const later = run(new Map(), pod('web', { namespace: 'b' }), ns('b'));
    assert.equal(later.plan.problems.length, 1, 'the namespace comes after its pod');
    assert.deepEqual(run(new Map(), ns('b'), pod('web', { namespace: 'b' })).plan.problems, []);
    assert.deepEqual(run(new Map(), pod('web', { namespace: 'kube-system' })).plan.problems, []);
  });
  it('problems that need the store are found for documents that already have others', () => {
    const prepared = prepareApply(docs(pod('Bad_Name', { namespace: 'nope' })));
    const current = new Map(applyReads(prepared.candidates).map((k) => [k, null]));
    const plan = planApply(prepared.candidates, current, facts);
    assert.deepEqual(
      [...prepared.problems, ...plan.problems].map((p) => `${p.field}: ${p.type}`),
      ['metadata.name: Invalid', 'metadata.namespace: NotFound'],
    );
    assert.deepEqual(
      plan.ops.filter((o) => o.key.startsWith('objects/pods/')),
      [],
      'an invalid object is never written',
    );
  });
  it('a stale resourceVersion is a conflict; one on a create is invalid', () => {
    const state = new Map<string, KeyValue | null>();
    commit(state, run(state, pod('web')).plan, 5);
    const stale = run(state, pod('web', { resourceVersion: '4' }));
    assert.deepEqual(
      stale.plan.conflicts.map((c) => [c.ref, c.given, c.current]),
      [['pod/web', '4', '5']],
    );
    assert.deepEqual(run(state, pod('web', { resourceVersion: '5' })).plan.conflicts, []);
    const create = run(state, pod('new', { resourceVersion: '5' }));
    assert.match(
      create.plan.problems[0].message,
      /resourceVersion should not be set on objects to be created/,
    );
  });
  it('pod spec is immutable except images; nodeName may be set once (ValidatePodUpdate)', () => {
    const state = new Map<string, KeyValue | null>();
    commit(state, run(state, pod('web')).plan, 1);
    const image = run(
      state,
      pod(
        'web',
        {},
        { containers: [{ name: 'app', image: 'nginx:1.28', ports: [{ containerPort: 80, name: 'http' }] }] },
      ),
    );
    assert.deepEqual(image.plan.problems, []);
    const rename = run(
      state,
      pod(
        'web',
        {},
        {
          containers: [{ name: 'other', image: 'nginx:1.27', ports: [{ containerPort: 80, name: 'http' }] }],
        },
      ),
    );
    assert.equal(rename.plan.problems[0].field, 'spec.containers[0].name');
    assert.equal(rename.plan.problems[0].type, 'Forbidden');
    const bind = run(state, pod('web', {}, { nodeName: 'node-1' }));
    assert.deepEqual(bind.plan.problems, []);
    commit(state, bind.plan, 2);
    const move = run(state, pod('web', {}, { nodeName: 'node-2' }));
    assert.equal(move.plan.problems[0].field, 'spec.nodeName');
  });
  it("uid and creationTimestamp are the server's: kept on update, a different given uid is refused", () => {
    const state = new Map<string, KeyValue | null>();
    commit(state, run(state, pod('web')).plan, 1);
    const given = run(state, pod('web', { creationTimestamp: '2000-01-01T00:00:00Z', labels: { a: 'b' } }));
    const put = given.plan.ops.find((o) => o.key === 'objects/pods/default/web');
    assert.equal(
      put?.type === 'put' && JSON.parse(put.value).metadata.creationTimestamp,
      facts().creationTimestamp,
    );
    const uid = run(state, pod('web', { uid: 'another' }));
    assert.equal(uid.plan.problems[0].message, 'metadata.uid: Invalid value: "another": field is immutable');
  });
  it('the same object twice in one apply is refused (an etcd txn cannot put a key twice)', () => {
    const { plan } = run(new Map(), pod('web'), pod('web'));
    assert.equal(plan.problems[0].type, 'Duplicate');
    assert.match(plan.problems[0].message, /also in m\.yaml#0/);
  });
  it(`more than ${MAX_TXN_OPS} operations in one apply is TransactionTooLarge, not a partial apply`, () => {
    const state = new Map<string, KeyValue | null>();
    commit(state, run(state, ns('x')).plan, 1);
    const fits = Array.from({ length: MAX_TXN_OPS - 1 }, (_, i) => pod(`p${i}`, { namespace: 'x' }));
    assert.equal(run(state, ...fits).plan.ops.length, MAX_TXN_OPS - 1);
    const prepared = prepareApply(
      docs(...fits, pod('one-more', { namespace: 'x' }), pod('two-more', { namespace: 'x' })),
    );
    const current = new Map(applyReads(prepared.candidates).map((k) => [k, state.get(k) ?? null]));
    assert.throws(
      () => planApply(prepared.candidates as Candidate[], current, facts),
      (e: unknown) =>
        e instanceof PodnetError &&
        e.code === 'TransactionTooLarge' &&
        /more than the 128 etcd allows/.test(e.message),
    );
  });
  it("status in a manifest is the server's and is ignored", () => {
    const { plan } = run(new Map(), { ...pod('web'), status: { phase: 'Running', podIP: '10.0.0.1' } });
    const put = plan.ops.find((o) => o.key === 'objects/pods/default/web');
    assert.deepEqual((JSON.parse(put?.type === 'put' ? put.value : '{}') as KubeObject).status, {
      phase: 'Pending',
    });
  });
});
