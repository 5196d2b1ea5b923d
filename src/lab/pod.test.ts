import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pluginConfig, resultIp } from './pod.js';

describe('CNI calls as a runtime makes them', () => {
  const list = {
    cniVersion: '1.0.0',
    cniVersions: ['1.0.0', '1.1.0'],
    name: 'podnet',
    plugins: [{ type: 'podnet-cni', agentSocket: '/run/x/agent.sock' }],
  };

  it('gives the plugin its own object with the list name and version injected, as libcni does', () => {
    assert.deepEqual(JSON.parse(pluginConfig(list)), {
      type: 'podnet-cni',
      agentSocket: '/run/x/agent.sock',
      cniVersion: '1.0.0',
      name: 'podnet',
    });
  });

  it('adds the ADD result as prevResult for DEL', () => {
    const prev = { cniVersion: '1.0.0', ips: [{ address: '10.244.0.5/32' }] };
    assert.deepEqual(JSON.parse(pluginConfig(list, prev)).prevResult, prev);
  });

  it('takes the pod IPv4 address from a result', () => {
    assert.equal(resultIp({ ips: [{ address: 'fd00::5/128' }, { address: '10.244.0.5/32' }] }), '10.244.0.5');
    assert.equal(resultIp({}), undefined);
  });
});
