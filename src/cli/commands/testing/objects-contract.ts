/**
 * `podnet apply|get|delete` end to end, in process through main(argv, io), on every store backend (each test
 * file runs it on its own: memory and sqlite in objects.test.ts, etcd in objects-etcd.int.test.ts): what a user
 * and a script see, the store left exactly as it was by a failed apply, kubectl's conflict on a stale
 * resourceVersion or a concurrent change.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PodnetError } from '../../../errors/index.js';
import { decodeManifest } from '../../../objects/decode.js';
import { resolveResource } from '../../../objects/registry.js';
import { applyDocuments, deleteObjects } from '../../../objects/store.js';
import { openVersionedStore } from '../../../store/open.js';
import type { Compare, TxnOp, VersionedStore } from '../../../store/versioned.js';
import { main } from '../../main.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-objects-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

/** A new, empty store of the backend under test (set by objectsCliContract). */
let newStore: () => string = () => {
  throw new Error('objectsCliContract sets the store factory');
};

async function podnet(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(`${t}\n`), err: (t) => err.push(`${t}\n`) });
  const run = { code, out: out.join(''), err: err.join('') };
  assert.doesNotMatch(run.out + run.err, /\n\s+at .+:\d+:\d+/, 'never a stack trace');
  return run;
}

async function jsonError(args: string[]) {
  const r = await podnet([...args, '-o', 'json']);
  const body = JSON.parse(r.out) as {
    error: {
      code: string;
      field?: string;
      message: string;
      hint?: string;
      details?: Record<string, unknown>;
    };
  };
  return { code: r.code, error: body.error };
}

/** Every key and value of the store with its revisions: what "unchanged, byte for byte" compares. */
async function dump(url: string): Promise<string> {
  const s = await openVersionedStore(url);
  const all = await s.list('');
  return JSON.stringify(all);
}

const NS_AND_PODS = `apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: team-a
  labels: {app: web, tier: front}
spec:
  nodeName: node-1
  containers:
  - name: web
    image: nginx:1.27
    ports: [{containerPort: 80, name: http}, {containerPort: 5353, protocol: UDP, name: dns}]
---
apiVersion: v1
kind: Pod
metadata:
  name: db
  namespace: team-a
  labels: {app: db}
spec:
  containers: [{name: db, image: postgres:16, ports: [{containerPort: 5432, protocol: SCTP}]}]
`;

const podYaml = (name: string, labels: string, extraMeta = '') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {${labels}}
${extraMeta}spec:
  containers: [{name: app, image: busybox}]
`;

/** `store` with `before(ops)` run just before each of its transactions: another writer racing this one. */
function racingStore(store: VersionedStore, before: (ops: TxnOp[]) => Promise<void>): VersionedStore {
  return Object.assign(Object.create(store) as VersionedStore, {
    txn: async (compares: Compare[], ops: TxnOp[]) => {
      await before(ops);
      return store.txn(compares, ops);
    },
  });
}

export function objectsCliContract(backend: string, storeFactory: () => string): void {
  describe(`objects on ${backend}`, () => {
    before(() => {
      newStore = storeFactory;
    });
    describe('podnet apply', () => {
      it('creates, then reports unchanged, then configured, as kubectl prints it', async () => {
        const store = newStore();
        const f = file('a.yaml', NS_AND_PODS);
        const first = await podnet(['apply', '-f', f, '--store', store]);
        assert.equal(first.code, 0, first.err);
        assert.equal(first.out, 'namespace/team-a created\npod/web created\npod/db created\n');
        const again = await podnet(['apply', '-f', f, '--store', store]);
        assert.equal(again.out, 'namespace/team-a unchanged\npod/web unchanged\npod/db unchanged\n');
        const relabel = file('a2.yaml', NS_AND_PODS.replace('app: db}', 'app: db, tier: back}'));
        const changed = await podnet(['apply', '-f', relabel, '--store', store, '-o', 'json']);
        const body = JSON.parse(changed.out) as {
          results: { ref: string; action: string; namespace?: string }[];
        };
        assert.deepEqual(
          body.results.map((r) => `${r.ref} ${r.action} ${r.namespace ?? '-'}`),
          ['namespace/team-a unchanged -', 'pod/web unchanged team-a', 'pod/db configured team-a'],
        );
      });

      it('reads a directory, several -f, JSON and a List; -n places objects that name no namespace', async () => {
        const store = newStore();
        const d = join(dir, 'manifests');
        file(
          'manifests/1-ns.json',
          JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } }),
        );
        file(
          'manifests/2-pods.yaml',
          `apiVersion: v1\nkind: List\nitems:\n- ${podYaml('p1', 'app: x').replace(/\n/g, '\n  ')}`,
        );
        file('manifests/notes.txt', 'not a manifest');
        const extra = file('extra.yaml', podYaml('p2', 'app: y'));
        const r = await podnet(['apply', '-f', d, '-f', extra, '-n', 'b', '--store', store]);
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, 'namespace/b created\npod/p1 created\npod/p2 created\n');
        const got = await podnet(['get', 'pods', '-n', 'b', '--store', store, '-o', 'json']);
        assert.deepEqual(
          (JSON.parse(got.out) as { items: { metadata: { name: string } }[] }).items.map(
            (i) => i.metadata.name,
          ),
          ['p1', 'p2'],
        );
      });

      it('one invalid object applies nothing: the store is unchanged, byte for byte, and every problem is named', async () => {
        const store = newStore();
        await podnet(['apply', '-f', file('base.yaml', NS_AND_PODS), '--store', store]);
        const before = await dump(store);
        const bad = file(
          'bad.yaml',
          `${NS_AND_PODS.replace('app: db}', 'app: db2}')}---\n${podYaml('broken', 'app: x').replace(
            'containers:',
            'contianers:',
          )}---\napiVersion: v1\nkind: Namespace\nmetadata: {name: new-ns}\n`,
        );
        const r = await jsonError(['apply', '-f', bad, '--store', store]);
        assert.equal(r.code, 1);
        assert.equal(r.error.code, 'ObjectsInvalid');
        const problems = r.error.details?.problems as {
          source: { file: string; index: number };
          field: string;
          message: string;
          hint: string;
        }[];
        assert.deepEqual(
          problems.map((p) => [p.source.index, p.field]),
          [
            [3, 'spec.contianers'],
            [3, 'spec.containers'],
          ],
        );
        assert.match(problems[0].message, /unknown field "contianers", did you mean "containers"\?/);
        assert.equal(problems[0].hint, 'rename it to containers');
        assert.equal(await dump(store), before, 'not one key or revision changed');
        const text = await podnet(['apply', '-f', bad, '--store', store]);
        assert.match(text.err, /bad\.yaml#3 \(Pod default\/broken\): spec\.contianers: unknown field/);
        assert.match(text.err, /nothing was applied/);
      });

      it("a stale metadata.resourceVersion is kubectl's conflict, and nothing changes", async () => {
        const store = newStore();
        await podnet(['apply', '-f', file('web.yaml', podYaml('web', 'v: "1"')), '--store', store]);
        const got = JSON.parse((await podnet(['get', 'pod', 'web', '--store', store, '-o', 'json'])).out) as {
          metadata: { resourceVersion: string };
        };
        const rv = got.metadata.resourceVersion;
        const withRv = (v: string) => podYaml('web', `v: "${v}"`, `  resourceVersion: "${rv}"\n`);
        const ok = await podnet(['apply', '-f', file('web2.yaml', withRv('2')), '--store', store]);
        assert.equal(ok.out, 'pod/web configured\n', 'the current resourceVersion is accepted');
        const before = await dump(store);
        const stale = await jsonError(['apply', '-f', file('web3.yaml', withRv('3')), '--store', store]);
        assert.equal(stale.code, 1);
        assert.equal(stale.error.code, 'ObjectConflict');
        assert.match(
          stale.error.message,
          /^Operation cannot be fulfilled on pods "web": the object has been modified; please apply your changes to the latest version and try again/,
        );
        assert.equal(await dump(store), before);
      });

      it('a change between read and commit fails the guard: a conflict, and the other writer wins', async () => {
        const url = newStore();
        const shared = await openVersionedStore(url);
        await applyDocuments(shared, decodeManifest(podYaml('web', 'v: "1"'), 'web.yaml'));
        // A store that lets another writer change the pod just before this apply's transaction.
        const racing: VersionedStore = racingStore(shared, async () => {
          const kv = await shared.get('objects/pods/default/web');
          await shared.txn([], [{ type: 'put', key: 'objects/pods/default/web', value: kv?.value ?? '' }]);
        });
        const before = (await shared.get('objects/pods/default/web'))?.modRevision;
        await assert.rejects(
          applyDocuments(racing, decodeManifest(podYaml('web', 'v: "2"'), 'web.yaml')),
          (e: unknown) =>
            e instanceof PodnetError &&
            e.code === 'ObjectConflict' &&
            /pods\/default\/web: the object has been modified/.test(e.message),
        );
        const after = await shared.get('objects/pods/default/web');
        assert.equal(after?.modRevision, (before as number) + 1, "only the other writer's put landed");
        assert.match(after?.value ?? '', /"v":"1"/);
      });

      it('refuses an immutable change as the API server does', async () => {
        const store = newStore();
        await podnet(['apply', '-f', file('i1.yaml', podYaml('web', 'a: b')), '--store', store]);
        const r = await jsonError([
          'apply',
          '-f',
          file('i2.yaml', podYaml('web', 'a: b').replace('name: app', 'name: renamed')),
          '--store',
          store,
        ]);
        assert.equal(r.error.code, 'ObjectsInvalid');
        assert.match(
          r.error.message,
          /spec\.containers\[0\]\.name: Forbidden: pod updates may not change fields other than/,
        );
      });

      it('unreadable and empty inputs are usage errors (exit 2)', async () => {
        const store = newStore();
        const missing = await jsonError(['apply', '-f', join(dir, 'nope.yaml'), '--store', store]);
        assert.deepEqual(
          [missing.code, missing.error.code, missing.error.field],
          [2, 'ManifestUnreadable', '--filename'],
        );
        const empty = await jsonError([
          'apply',
          '-f',
          file('empty.yaml', '# nothing\n---\n'),
          '--store',
          store,
        ]);
        assert.deepEqual([empty.code, empty.error.code], [2, 'ManifestEmpty']);
        const none = await jsonError(['apply', '--store', store]);
        assert.deepEqual([none.code, none.error.code], [2, 'UsageError']);
      });
    });

    describe('podnet get', () => {
      let store = '';
      let ready: Promise<unknown>;
      before(() => {
        store = newStore();
        ready = podnet(['apply', '-f', file('g.yaml', NS_AND_PODS), '--store', store]);
      });

      it('prints kubectl tables: NAME READY STATUS RESTARTS AGE, wide adds IP NODE, -A adds NAMESPACE', async () => {
        await ready;
        const t = await podnet(['get', 'pods', '-n', 'team-a', '--store', store]);
        assert.equal(t.code, 0, t.err);
        assert.match(
          t.out,
          /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\ndb\s+0\/1\s+Pending\s+0\s+\d+s\nweb\s+0\/1\s+Pending\s+0\s+\d+s\n$/,
        );
        const wide = await podnet(['get', 'po', '-A', '-o', 'wide', '--store', store]);
        assert.match(wide.out, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\n/);
        assert.match(wide.out, /\nteam-a\s+web\s+0\/1\s+Pending\s+0\s+\d+s\s+<none>\s+node-1\n/);
        const ns = await podnet(['get', 'ns', '--store', store]);
        assert.match(ns.out, /^NAME\s+STATUS\s+AGE\ndefault\s+Active/);
        assert.deepEqual(
          ns.out
            .trim()
            .split('\n')
            .slice(1)
            .map((l) => l.split(/\s+/)[0]),
          ['default', 'kube-node-lease', 'kube-public', 'kube-system', 'team-a'],
        );
      });

      it('selects by label with kubectl syntax', async () => {
        await ready;
        const names = async (sel: string) =>
          (
            JSON.parse(
              (await podnet(['get', 'pods', '-A', '-l', sel, '-o', 'json', '--store', store])).out,
            ) as {
              items: { metadata: { name: string } }[];
            }
          ).items.map((i) => i.metadata.name);
        assert.deepEqual(await names('app=web'), ['web']);
        assert.deepEqual(await names('app!=web'), ['db']);
        assert.deepEqual(await names('tier'), ['web']);
        assert.deepEqual(await names('!tier'), ['db']);
        assert.deepEqual(await names('app in (db,web),tier notin (back)'), ['db', 'web']);
        const bad = await jsonError(['get', 'pods', '-l', 'app in (', '--store', store]);
        assert.deepEqual(
          [bad.code, bad.error.code, bad.error.field],
          [2, 'InvalidLabelSelector', '--selector'],
        );
      });

      it('one object as JSON or YAML, several as a v1 List, with the server-set metadata', async () => {
        await ready;
        const one = JSON.parse(
          (await podnet(['get', 'pod', 'web', '-n', 'team-a', '-o', 'json', '--store', store])).out,
        );
        assert.equal(one.kind, 'Pod');
        assert.match(
          one.metadata.uid,
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        );
        assert.match(one.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.match(one.metadata.resourceVersion, /^\d+$/);
        const yaml = await podnet(['get', 'namespace', 'team-a', '-o', 'yaml', '--store', store]);
        assert.match(yaml.out, /^apiVersion: v1\nkind: Namespace\n/);
        assert.match(yaml.out, /kubernetes\.io\/metadata\.name: team-a/);
        const list = JSON.parse((await podnet(['get', 'pods', '-A', '-o', 'json', '--store', store])).out);
        assert.deepEqual([list.apiVersion, list.kind, list.items.length], ['v1', 'List', 2]);
      });

      it('NotFound with a hint; unknown types; nothing found is not an error', async () => {
        await ready;
        const nf = await jsonError(['get', 'pod', 'nope', '-n', 'team-a', '--store', store]);
        assert.deepEqual([nf.code, nf.error.code], [1, 'ObjectNotFound']);
        assert.match(nf.error.message, /pods "nope" not found in namespace team-a/);
        assert.match(nf.error.hint ?? '', /podnet get pods -A/);
        const unknown = await jsonError(['get', 'widgets', '--store', store]);
        assert.deepEqual([unknown.code, unknown.error.code], [2, 'UnknownResourceType']);
        const none = await podnet(['get', 'pods', '--store', store]);
        assert.deepEqual(
          [none.code, none.out, none.err],
          [0, '', 'No resources found in default namespace.\n'],
        );
      });
    });

    describe('podnet delete', () => {
      it('deletes by kind and name, and by manifest, in one transaction', async () => {
        const store = newStore();
        const f = file('d.yaml', NS_AND_PODS);
        await podnet(['apply', '-f', f, '--store', store]);
        const one = await podnet(['delete', 'pod', 'db', '-n', 'team-a', '--store', store]);
        assert.equal(one.out, 'pod "db" deleted\n');
        const before = await dump(store);
        const missing = await jsonError(['delete', '-f', f, '--store', store]);
        assert.deepEqual([missing.code, missing.error.code], [1, 'ObjectNotFound']);
        assert.match(missing.error.message, /pods "db" not found in namespace team-a; nothing was deleted/);
        assert.equal(await dump(store), before, 'atomic: nothing deleted when one object is missing');
        const ignoring = await podnet(['delete', '-f', f, '--ignore-not-found', '--store', store]);
        assert.equal(ignoring.out, 'namespace "team-a" deleted\npod "web" deleted (in namespace team-a)\n');
      });

      it('an object created in a namespace while it is being deleted is swept with it', async () => {
        const shared = await openVersionedStore(newStore());
        await applyDocuments(shared, decodeManifest(NS_AND_PODS, 'n.yaml'));
        let raced = false;
        // Another apply commits a pod into team-a after the delete listed the namespace, before it commits.
        const racing: VersionedStore = racingStore(shared, async (ops) => {
          if (!raced && ops.some((o) => o.type === 'delete' && o.key === 'objects/namespaces/team-a')) {
            raced = true;
            await applyDocuments(
              shared,
              decodeManifest(
                podYaml('late', 'a: b').replace('name: late', 'name: late\n  namespace: team-a'),
                'late.yaml',
              ),
            );
          }
        });
        const outcomes = await deleteObjects(
          racing,
          [{ kind: resolveResource('ns'), name: 'team-a' }],
          false,
        );
        assert.ok(raced);
        assert.deepEqual(
          outcomes.map((o) => o.text),
          [
            'namespace "team-a" deleted',
            'pod "db" deleted (in namespace team-a)',
            'pod "web" deleted (in namespace team-a)',
            'pod "late" deleted (in namespace team-a)',
          ],
        );
        assert.deepEqual((await shared.list('objects/pods/team-a/')).items, []);
      });

      it('deleting a namespace deletes its objects; default may not be deleted', async () => {
        const store = newStore();
        await podnet(['apply', '-f', file('n.yaml', NS_AND_PODS), '--store', store]);
        await podnet(['apply', '-f', file('n2.yaml', podYaml('keep', 'a: b')), '--store', store]);
        const r = await podnet(['delete', 'ns', 'team-a', '--store', store]);
        assert.equal(
          r.out,
          'namespace "team-a" deleted\npod "db" deleted (in namespace team-a)\npod "web" deleted (in namespace team-a)\n',
        );
        const left = JSON.parse((await podnet(['get', 'pods', '-A', '-o', 'json', '--store', store])).out);
        assert.deepEqual(
          left.items.map((i: { metadata: { name: string } }) => i.metadata.name),
          ['keep'],
        );
        const def = await jsonError(['delete', 'namespace', 'default', '--store', store]);
        assert.equal(def.error.code, 'NamespaceUndeletable');
        assert.match(
          def.error.message,
          /namespaces "default" is forbidden: this namespace may not be deleted/,
        );
      });
    });

    describe('store selection', () => {
      it('takes PODNET_STORE, refuses --store with --lab, and names a missing lab', async () => {
        const store = newStore();
        await podnet(['apply', '-f', file('e.yaml', podYaml('env', 'a: b')), '--store', store]);
        const saved = process.env.PODNET_STORE;
        process.env.PODNET_STORE = store;
        try {
          const r = await podnet(['get', 'pods', '-o', 'json']);
          assert.equal(JSON.parse(r.out).items[0].metadata.name, 'env');
        } finally {
          if (saved === undefined) Reflect.deleteProperty(process.env, 'PODNET_STORE');
          else process.env.PODNET_STORE = saved;
        }
        const both = await jsonError(['get', 'pods', '--store', store, '--lab', 'x']);
        assert.deepEqual([both.code, both.error.code], [2, 'UsageError']);
        const lab = await jsonError(['get', 'pods', '--lab', 'nolabobj9']);
        assert.equal(lab.error.code, 'LabNotFound');
      });
    });

    // Issue 10, point 1: NetworkPolicy taken as the Kubernetes API takes it, defaulted and refused as it refuses.
    describe('podnet apply|get of NetworkPolicy', () => {
      const netpol = (spec: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db
  namespace: default
spec:
${spec}`;

      it('stores it with the API defaults (policyTypes, protocol TCP) and lists it as kubectl does', async () => {
        const store = newStore();
        const spec = `  podSelector: {matchLabels: {role: db}}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}], ports: [{port: 5432}]}]
`;
        const r = await podnet(['apply', '-f', file('np.yaml', netpol(spec)), '--store', store]);
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, 'networkpolicy.networking.k8s.io/db created\n');
        const got = JSON.parse((await podnet(['get', 'netpol', 'db', '--store', store, '-o', 'json'])).out);
        assert.deepEqual(
          got.spec.policyTypes,
          ['Ingress', 'Egress'],
          'Egress because egress rules are given',
        );
        assert.deepEqual(got.spec.egress[0].ports, [{ port: 5432, protocol: 'TCP' }]);
        const table = (await podnet(['get', 'networkpolicies', '--store', store])).out;
        assert.match(table, /^NAME\s+POD-SELECTOR\s+AGE\ndb\s+role=db\s+/);
      });

      it('refuses what the API server refuses, naming the field, and applies nothing', async () => {
        const store = newStore();
        const before = await dump(store);
        const bad = await jsonError([
          'apply',
          '-f',
          file(
            'np-bad.yaml',
            netpol(
              '  podSelector: {}\n  ingress: [{ports: [{port: http, endPort: 90}], from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]\n',
            ),
          ),
          '--store',
          store,
        ]);
        assert.equal(bad.error.code, 'ObjectsInvalid');
        assert.match(
          bad.error.message,
          /spec\.ingress\[0\]\.ports\[0\]\.endPort: Invalid value: 90: may not be specified when `port` is non-numeric/,
        );
        assert.match(
          bad.error.message,
          /spec\.ingress\[0\]\.from\[0\]\.ipBlock\.except\[0\]: Invalid value: "11\.0\.0\.0\/16": must be a strict subset of `cidr`/,
        );
        assert.equal(await dump(store), before);
      });
    });
  });
}
