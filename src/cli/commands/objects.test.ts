/**
 * `podnet apply|get|delete` on the memory and sqlite backends (etcd: objects-etcd.int.test.ts), and the real
 * executable reading standard input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { objectsCliContract } from './testing/objects-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-objects-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
objectsCliContract('memory', () => `memory:objects-cli-${++n}`);
objectsCliContract('sqlite', () => `sqlite:${join(dir, `objects-${++n}.db`)}`);

const podYaml = (name: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {a: b}
spec:
  containers: [{name: app, image: busybox}]
`;

describe('the podnet executable', () => {
  const bin = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../../..'), 'bin/podnet.js');
  it('applies manifests from standard input (-f -) and shows examples in --help', () => {
    const r = spawnSync(process.execPath, [bin, 'apply', '-f', '-', '--store', 'memory:stdin'], {
      input: podYaml('from-stdin'),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'pod/from-stdin created\n');
    for (const verb of ['apply', 'get', 'delete']) {
      const help = spawnSync(process.execPath, [bin, verb, '--help'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(help.status, 0);
      assert.match(help.stdout, /Examples:\n\s+podnet /, verb);
    }
  });
});
