/**
 * The stderr texts below are what iproute2 6.1, nftables 1.0.6 and util-linux nsenter (Debian 12) print;
 * kernel.int.test.ts checks the same codes against the real tools.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import {
  classifyKernelFailure,
  kernelCommandError,
  kernelFailureOf,
  onlyMissingRemovals,
} from './failure.js';
import { parseNftJson } from './nft.js';

describe('kernel failures', () => {
  const cases: [string, string, string | undefined, number][] = [
    ['Cannot find device "nope"\n', 'LinkNotFound', 'ENODEV', 0],
    ['Device "nope" does not exist.\n', 'LinkNotFound', 'ENODEV', 0],
    ['Cannot open network namespace "nope": No such file or directory\n', 'NetnsNotFound', 'ENOENT', 0],
    ['nsenter: cannot open /proc/999999/ns/net: No such file or directory\n', 'NetnsNotFound', 'ENOENT', 0],
    ['Error: ipv4: FIB table does not exist.\nDump terminated\n', 'RouteTableNotFound', undefined, 0],
    [
      'Error: No such file or directory\nlist table ip nope\n              ^^^^\n',
      'NftTableNotFound',
      'ENOENT',
      0,
    ],
    ['RTNETLINK answers: File exists\nCommand failed -:3\n', 'KernelCommandFailed', 'EEXIST', 3],
    ['RTNETLINK answers: Operation not permitted\n', 'KernelCommandFailed', 'EPERM', 0],
    ['/dev/stdin:2:1-4: Error: syntax error, unexpected junk\n', 'KernelCommandFailed', undefined, 2],
  ];
  for (const [stderr, code, errno, line] of cases) {
    it(`reads ${JSON.stringify(stderr.split('\n')[0])} as ${code}`, () => {
      assert.deepEqual(classifyKernelFailure(stderr), { code, batchLine: line, ...(errno ? { errno } : {}) });
    });
  }

  it('puts the code, the command and the facts on the error, and reads them back', () => {
    const e = kernelCommandError('ip', ['-n', 'x', 'link', 'del', 'dev', 'y'], {
      stderr: 'Cannot find device "y"\n',
      code: 1,
    });
    assert.equal(e.code, 'LinkNotFound');
    assert.match(e.message, /^ip -n x link del dev y failed: Cannot find device "y"$/);
    assert.ok(e.hint);
    assert.deepEqual(kernelFailureOf(e), { code: 'LinkNotFound', batchLine: 0, errno: 'ENODEV' });
  });

  it('tells a forced batch whose only failures removed what was gone from one with a real failure', () => {
    const lines = ['rule del pref 7 table 7', 'route flush table 7', 'link set dev x up', 'link del dev x'];
    const gone = 'RTNETLINK answers: No such file or directory\nCommand failed -:1\n';
    assert.equal(onlyMissingRemovals(lines, gone), true);
    assert.equal(onlyMissingRemovals(lines, `${gone}Cannot find device "x"\nCommand failed -:4\n`), true);
    assert.equal(
      onlyMissingRemovals(lines, `${gone}Cannot find device "x"\nCommand failed -:3\n`),
      false,
      'not a removal',
    );
    assert.equal(
      onlyMissingRemovals(lines, 'RTNETLINK answers: Operation not permitted\nCommand failed -:1\n'),
      false,
    );
    assert.equal(onlyMissingRemovals(lines, 'Command line is not complete.\n'), false, 'no line named');
  });

  it('is null for errors that are not a kernel command failure', () => {
    assert.equal(kernelFailureOf(new Error('x')), null);
    assert.equal(kernelFailureOf(new PodnetError('LinkNotFound', 'from somewhere else')), null);
    assert.equal(kernelFailureOf(new PodnetError('MaxPodsReached', 'x', { details: { cmd: 'ip' } })), null);
  });
});

describe('nft JSON listing', () => {
  it('groups the objects of `nft -j list table` by kind', () => {
    const t = parseNftJson(
      JSON.stringify({
        nftables: [
          { metainfo: { version: '1.0.6', json_schema_version: 1 } },
          { table: { family: 'ip', name: 't', handle: 1 } },
          { chain: { family: 'ip', table: 't', name: 'c', handle: 1, hook: 'forward', prio: 0 } },
          { set: { family: 'ip', table: 't', name: 's', type: 'ipv4_addr' } },
          {
            rule: { family: 'ip', table: 't', chain: 'c', handle: 2, expr: [{ accept: null }], comment: 'x' },
          },
        ],
      }),
    );
    assert.equal(t.tables.length, 1);
    assert.equal(t.chains[0].name, 'c');
    assert.equal(t.sets[0].name, 's');
    assert.deepEqual(
      t.rules.map((r) => [r.chain, r.handle, r.comment]),
      [['c', 2, 'x']],
    );
  });
});
