import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import type { NodeSnapshot } from './desired.js';
import { type DataplanePart, nodeDataplaneParts, runParts } from './parts.js';
import { RecordingDataplane, testProfile } from './test-fixtures.js';

const snapshot: NodeSnapshot = {
  profile: testProfile(),
  leases: [],
  selfNode: 'n1',
  attachedSubnets: ['10.224.0.0/16'],
  peerRoutes: 'direct',
  storeEndpoints: [],
};

function part(name: string, ensure: () => Promise<never> | Promise<{ change: 'applied' }>): DataplanePart {
  return { name, desired: () => undefined, ensure };
}

describe('dataplane parts', () => {
  it('the node reconciles forwarding, its nftables table and its peer routes, in that order', () => {
    assert.deepEqual(
      nodeDataplaneParts(new RecordingDataplane('10.224.0.4')).map((p) => p.name),
      ['forwarding', 'ruleset', 'routes'],
    );
  });

  it('runs every part even when one fails, and names the first failing part', async () => {
    const run = await runParts(
      [
        part('a', async () => ({ change: 'applied' })),
        part('b', async () => {
          throw new PodnetError('KernelCommandFailed', 'nft: syntax error');
        }),
        part('c', async () => {
          throw new Error('boom');
        }),
        part('d', async () => ({ change: 'applied' })),
      ],
      snapshot,
    );
    assert.deepEqual(run.parts, {
      a: { change: 'applied' },
      b: { error: { code: 'KernelCommandFailed', message: 'nft: syntax error' } },
      c: { error: { code: 'Internal', message: 'internal error: boom' } },
      d: { change: 'applied' },
    });
    assert.deepEqual(run.error, { code: 'KernelCommandFailed', message: 'nft: syntax error', part: 'b' });
  });

  it('a part whose desired state cannot be computed fails alone (a bad profile CIDR)', async () => {
    const dp = new RecordingDataplane('10.224.0.4');
    const bad = { ...snapshot, profile: testProfile({ nonMasqueradeCidrs: ['10.0.0.1/8'] }) };
    const run = await runParts(nodeDataplaneParts(dp), bad);
    assert.equal(run.error?.part, 'ruleset');
    assert.equal(run.error?.code, 'CidrHostBitsSet');
    assert.deepEqual(run.parts.forwarding, { change: 'applied' });
    assert.equal(dp.ruleset, null);
  });
});
