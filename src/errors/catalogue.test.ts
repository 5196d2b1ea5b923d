import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AREAS, CATALOGUE, type CatalogueEntry } from './catalogue.js';
import { githubAnchor, renderErrorsDoc } from './doc.js';
import {
  CAMEL_CASE,
  comparedCodes,
  isTestSource,
  producedCodes,
  projectSources,
  readSource,
  thrownCodes,
} from './testing/code-scan.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CODES = new Set(Object.keys(CATALOGUE));
const entries = Object.entries(CATALOGUE) as [string, CatalogueEntry][];
const sources = projectSources(ROOT).filter((p) => !isTestSource(p));
const thrown = sources.flatMap((p) => thrownCodes(p, readSource(ROOT, p)));

describe('error catalogue', () => {
  it('holds stable CamelCase codes, each with a known area, a cause and a fix', () => {
    for (const [code, e] of entries) {
      assert.match(code, CAMEL_CASE, code);
      assert.ok(e.area in AREAS, `${code}: area ${e.area}`);
      assert.ok(e.cause.length > 10 && e.fix.length > 3, `${code}: cause and fix`);
    }
  });

  it('lists every code a PodnetError is constructed with, conditional codes included', () => {
    assert.ok(thrown.length > 100, `found only ${thrown.length} constructions`);
    const missing = thrown.filter((t) => !CODES.has(t.code)).map((t) => `${t.code} (${t.at})`);
    assert.deepEqual(missing, [], 'thrown but not in src/errors/catalogue.ts');
  });

  it('lists every code the sources compare a .code with (e.code === ...), test sources included', () => {
    const compared = projectSources(ROOT).flatMap((p) => comparedCodes(p, readSource(ROOT, p)));
    assert.ok(compared.length > 5, `found only ${compared.length} comparisons`);
    const missing = compared.filter((c) => !CODES.has(c.code)).map((c) => `${c.code} (${c.at})`);
    assert.deepEqual(missing, [], 'compared with but not in src/errors/catalogue.ts');
  });

  it('gives exit 3 (unreachable) exactly to the codes thrown as retryable', () => {
    const retryable = new Set(thrown.filter((t) => t.retryable).map((t) => t.code));
    const unreachable = new Set(entries.filter(([, e]) => e.exit === 'unreachable').map(([c]) => c));
    assert.deepEqual([...retryable].sort(), [...unreachable].sort());
    const mixed = thrown.filter((t) => unreachable.has(t.code) && !t.retryable).map((t) => t.at);
    assert.deepEqual(mixed, [], 'an unreachable code thrown without retryable: true');
  });

  it('has no dead entry: every catalogued code is produced by podnet', () => {
    const produced = producedCodes(ROOT, CODES);
    for (const t of thrown) produced.set(t.code, [...(produced.get(t.code) ?? []), t.at]);
    const dead = [...CODES].filter((c) => !produced.has(c));
    assert.deepEqual(dead, [], 'catalogued but produced nowhere: remove them (the names stay retired)');
  });

  it('links each area to a page and heading that exist (the page that explains its codes)', () => {
    for (const { page } of Object.values(AREAS)) {
      if (page === null) continue;
      const [file, anchor] = page.split('#');
      const text = readFileSync(join(ROOT, 'docs', file), 'utf8');
      if (anchor === undefined) continue;
      const headings = text
        .split('\n')
        .filter((l) => /^#+ /.test(l))
        .map((l) => githubAnchor(l.replace(/^#+ /, '')));
      assert.ok(headings.includes(anchor), `docs/${file} has no heading #${anchor}`);
    }
  });

  it('is what docs/errors.md says (regenerate: node scripts/gen-errors-doc.mjs)', () => {
    const page = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
    assert.equal(page, renderErrorsDoc(), 'docs/errors.md is stale');
    for (const code of CODES) assert.ok(page.includes(`<a id="${code}"></a>`), `${code} has no anchor`);
  });
});

describe('the scanner', () => {
  it('finds literal and conditional codes, not conditions, and sees retryable', () => {
    const text = `
      throw new PodnetError('AlphaCode', 'm');
      throw new PodnetError(e.code === 'NotACode' ? 'BetaCode' : ('GammaCode'), 'm', { retryable: true });
      throw new PodnetError(e.code, 'rethrown');`;
    assert.deepEqual(
      thrownCodes('x.ts', text).map((t) => [t.code, t.at, t.retryable]),
      [
        ['AlphaCode', 'x.ts:2', false],
        ['BetaCode', 'x.ts:3', true],
        ['GammaCode', 'x.ts:3', true],
      ],
    );
  });

  it('finds codes compared with .code, not errno or SQLite codes', () => {
    const text = `if (e.code === 'LeaseGone' || 'StoreGone' !== err.code) {}
      if (e.code === 'ENOENT' || e.code === 'SQLITE_BUSY' || e.name === 'NotACode') {}`;
    assert.deepEqual(comparedCodes('y.ts', text), [
      { code: 'LeaseGone', at: 'y.ts:1' },
      { code: 'StoreGone', at: 'y.ts:1' },
    ]);
  });
});
