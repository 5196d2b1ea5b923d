import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ErrorCode, PodnetError, asPodnetError } from '../errors/index.js';
import { type Io, exitCodeFor, renderError } from './output.js';

const err = (code: ErrorCode) => new PodnetError(code, 'm');

describe('exitCodeFor: the exit class of the catalogue', () => {
  it('maps the documented classes: 1 problems, 2 unusable input, 3 unreachable', () => {
    assert.equal(exitCodeFor(err('PodCidrExhausted')), 1);
    assert.equal(exitCodeFor(err('UsageError')), 2);
    assert.equal(exitCodeFor(err('CidrHostBitsSet')), 2);
    assert.equal(exitCodeFor(err('LabTooLarge')), 2);
    assert.equal(exitCodeFor(err('StoreUnreachable')), 3);
    assert.equal(exitCodeFor(err('BlockClaimContention')), 3);
  });

  it('gives a plan error thrown by lab up the exit of podnet plan (1), whatever its name looks like', () => {
    assert.equal(exitCodeFor(err('UnknownSubnet')), 1);
    assert.equal(exitCodeFor(err('ServiceCidrTooLarge')), 1);
  });

  it('never exits 0 for a thrown code, even one of a plan warning', () => {
    assert.equal(exitCodeFor(err('NoLinuxNodePool')), 1);
  });

  it('reports a foreign exception as Internal, exit 1', () => {
    const lines: string[] = [];
    const io: Io = { out: (t) => lines.push(t), err: (t) => lines.push(t) };
    assert.equal(asPodnetError(new TypeError('boom')).code, 'Internal');
    assert.equal(renderError(new TypeError('boom'), 'json', io), 1);
    assert.equal(JSON.parse(lines[0]).error.code, 'Internal');
  });
});
