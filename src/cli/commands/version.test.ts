import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { LabState } from '../../lab/model.js';
import { demoStart } from './demo.js';
import { runMain as podnet } from './testing/run-cli.js';

describe('podnet version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };

  it('--version prints the package version; version -o json says what this build reads and speaks', async () => {
    const v = await podnet(['--version']);
    assert.deepEqual([v.code, v.out.trim()], [0, pkg.version]);
    const j = JSON.parse((await podnet(['version', '-o', 'json'])).out);
    assert.deepEqual(
      [j.apiVersion, j.kind, j.version, j.node, j.storeSchema],
      ['podnet.io/v1alpha1', 'Version', pkg.version, process.version, 2],
    );
    assert.ok(j.cniVersions.includes('1.1.0'));
  });
});

// Issue 13, point 9: `podnet demo` removed any existing lab called demo, also one a user had made.
describe('podnet demo and labs it did not make', () => {
  const lab = (madeBy?: 'demo') => ({ name: 'demo', ...(madeBy ? { madeBy } : {}) }) as unknown as LabState;
  it('starts fresh, replaces its own lab, and refuses to touch another, with the command that removes it', () => {
    assert.equal(demoStart('demo', null), 'fresh');
    assert.equal(demoStart('demo', lab('demo')), 'replace');
    assert.throws(
      () => demoStart('demo', lab()),
      (e: unknown) =>
        (e as { code?: string }).code === 'LabNotMadeByDemo' &&
        /podnet lab down --name demo/.test((e as { hint?: string }).hint ?? ''),
    );
  });
});
