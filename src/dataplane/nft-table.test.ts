import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type TableSection, normalizeListing, renderTable, replaceTableScript } from './nft-table.js';

const T = { family: 'inet', name: 't' } as const;

describe('a table of sections', () => {
  it('renders each section in order, its sets before its chains; a regular chain has no hook line', () => {
    const a: TableSection = {
      name: 'a',
      sets: [{ name: 'a_s', type: 'ipv4_addr', interval: false, elements: ['10.0.0.1'] }],
      chains: [{ name: 'a_jump', rules: ['ip daddr @a_s accept'] }],
    };
    const b: TableSection = {
      name: 'b',
      sets: [],
      chains: [
        {
          name: 'b_forward',
          base: { type: 'filter', hook: 'forward', priority: 'filter' },
          rules: ['jump a_jump'],
        },
      ],
    };
    assert.equal(
      renderTable(T, [a, b]),
      [
        'table inet t {',
        '\tset a_s {',
        '\t\ttype ipv4_addr',
        '\t\telements = { 10.0.0.1 }',
        '\t}',
        '\tchain a_jump {',
        '\t\tip daddr @a_s accept',
        '\t}',
        '\tchain b_forward {',
        '\t\ttype filter hook forward priority filter; policy accept;',
        '\t\tjump a_jump',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
  });

  it("refuses a name outside its section's prefix, and a name two sections declare", () => {
    const chain = (section: string, name: string): TableSection => ({
      name: section,
      sets: [],
      chains: [{ name, rules: [] }],
    });
    assert.throws(() => renderTable(T, [chain('snat', 'postrouting')]), /outside its prefix "snat_"/);
    assert.throws(() => renderTable(T, [chain('snat', 'snat_x'), chain('snat', 'snat_x')]), /declared twice/);
  });

  it('replaces the table in one transaction: declare, delete, recreate', () => {
    assert.equal(
      replaceTableScript(T, 'table inet t {\n}\n'),
      'table inet t\ndelete table inet t\ntable inet t {\n}\n',
    );
  });
});

describe('normalizeListing', () => {
  it('blanks packet counters so counting is not drift, and keeps everything else', () => {
    const a = normalizeListing('iifname "pnv*" counter packets 12 bytes 1008 drop');
    assert.equal(a, 'iifname "pnv*" counter drop');
    assert.notEqual(
      normalizeListing('ip daddr 10.0.0.0/8 drop'),
      normalizeListing('ip daddr 10.0.0.0/16 drop'),
    );
  });
});
