/**
 * Manifests into documents as kubectl reads them (multi-document YAML, JSON, Lists, empty documents skipped),
 * and a fuzz of the decoder: any text gives documents or problems, never an exception.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { below, mulberry32, mutateChars } from '../testing/fuzz.js';
import { prepareApply } from './apply.js';
import { decodeManifest } from './decode.js';

const POD =
  'apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}\n';

describe('decodeManifest', () => {
  it('splits multi-document YAML, skips empty documents and keeps each index', () => {
    const d = decodeManifest(
      `---\n# only a comment\n---\n${POD}---\n\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n`,
      'f.yaml',
    );
    assert.deepEqual(d.problems, []);
    assert.deepEqual(
      d.documents.map((x) => [x.source.index, (x.value as { kind: string }).kind]),
      [
        [1, 'Pod'],
        [3, 'Namespace'],
      ],
    );
  });
  it('reads JSON and expands a List into its items', () => {
    const list = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, 7],
    });
    const d = decodeManifest(list, 'l.json');
    assert.deepEqual(
      d.documents.map((x) => x.source),
      [{ file: 'l.json', index: 0, item: 0 }],
    );
    assert.equal(d.problems.length, 1);
    assert.deepEqual(d.problems[0].source, { file: 'l.json', index: 0, item: 1 });
  });
  it('a syntax error is a problem of its document; the other documents still decode', () => {
    const d = decodeManifest(`${POD}---\nmetadata: {name: [\n---\n${POD}`, 'f.yaml');
    assert.equal(d.documents.length, 2);
    assert.equal(d.problems.length, 1);
    assert.equal(d.problems[0].source.index, 1);
    assert.match(d.problems[0].message, /^not valid YAML or JSON: line \d+/);
  });
  it('refuses duplicate keys and non-object documents', () => {
    assert.equal(decodeManifest('a: 1\na: 2\n', 'f').problems.length, 1);
    assert.match(decodeManifest('- 1\n- 2\n', 'f').problems[0].message, /not an object/);
  });
  it('treats null values as absent, as the API does', () => {
    const d = decodeManifest('apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: null}\n', 'f');
    assert.deepEqual(d.documents[0].value, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } });
  });
});

describe('decoder fuzz', () => {
  it('near misses of manifests give documents or coded problems, never an exception', () => {
    const seeds = [
      POD,
      `${POD}---\n${POD}`,
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ kind: 'Pod' }] }),
    ];
    const rnd = mulberry32(42);
    for (let i = 0; i < 3000; i++) {
      const text = mutateChars(seeds[below(rnd, seeds.length)], ':-{}[], \n"\'&*!|>#%@a0', rnd, 6);
      const d = decodeManifest(text, 'fuzz.yaml');
      for (const p of d.problems)
        assert.ok(p.type && p.message && p.hint, `iteration ${i}: a problem names type, message and hint`);
      // What decodes must also be checked without an exception.
      const prepared = prepareApply(d.documents);
      for (const p of prepared.problems) assert.equal(typeof p.message, 'string');
    }
  });
});
