import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderPodPlumbing } from '../dataplane/pod-network.js';
import { mulberry32, mutateChars } from '../testing/fuzz.js';
import {
  askedVersion,
  compareVersions,
  decodeStdin,
  parseCniArgs,
  parseCommand,
  parseConfig,
  parseEnv,
  renderError,
  renderResult,
  renderVersion,
} from './protocol.js';
import { CniError } from './types.js';

const conf = (o: Record<string, unknown> = {}) =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'podnet', type: 'podnet-cni', ...o });

function cniError(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CniError, `expected a CniError, got ${e}`);
    return e;
  }
  assert.fail('expected a CniError');
}

describe('CNI command and environment', () => {
  it('accepts the six commands and refuses others with code 4', () => {
    for (const c of ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'])
      assert.equal(parseCommand({ CNI_COMMAND: c }), c);
    assert.equal(cniError(() => parseCommand({})).code, 4);
    assert.match(cniError(() => parseCommand({})).msg, /CNI_COMMAND/);
    assert.equal(cniError(() => parseCommand({ CNI_COMMAND: 'add' })).code, 4);
  });

  it('names every missing variable for ADD (empty counts as unset)', () => {
    const e = cniError(() => parseEnv({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '' }, 'ADD'));
    assert.equal(e.code, 4);
    assert.equal(e.msg, 'required env variables [CNI_NETNS,CNI_IFNAME] missing');
  });

  it('lets DEL run without CNI_NETNS (the namespace may be gone)', () => {
    const a = parseEnv({ CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0' }, 'DEL');
    assert.deepEqual(a, { containerId: 'abc', ifname: 'eth0', netns: '', args: '' });
  });

  it('refuses malformed container ids, interface names and relative netns paths', () => {
    const base = { CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0', CNI_NETNS: '/run/netns/x' };
    for (const [k, v] of [
      ['CNI_CONTAINERID', '-abc'],
      ['CNI_CONTAINERID', 'a b'],
      ['CNI_IFNAME', 'eth0/1'],
      ['CNI_IFNAME', 'a-very-long-ifname'],
      ['CNI_IFNAME', '..'],
      ['CNI_IFNAME', '#x'],
      ['CNI_IFNAME', 'a"b'],
      ['CNI_NETNS', 'run/netns/x'],
      ['CNI_NETNS', '/run/netns/x y'],
      ['CNI_NETNS', '/run/netns/x\nlink del dev eth0'],
      ['CNI_NETNS', "/run/netns/'x'"],
      // Issue 14, fault 6: the host veth's alias (`podnet:<id>/<ifname>`) holds at most 255 bytes; a longer id
      // failed in the kernel with code 100 instead of being refused here.
      ['CNI_CONTAINERID', 'c'.repeat(256)],
      ['CNI_CONTAINERID', 'c'.repeat(255 - 'podnet:/eth0'.length + 1)],
    ]) {
      const e = cniError(() => parseEnv({ ...base, [k]: v }, 'ADD'));
      assert.equal(e.code, 4);
      assert.match(e.msg, new RegExp(k));
    }
  });

  it('fuzz: whatever it accepts renders ip -batch lines that ip reads as written', () => {
    const rnd = mulberry32(9);
    const alphabet = 'eth0/run/netns/x#"\'\\ \n\t:;._-@%$\u0000\u007f';
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const env = {
        CNI_CONTAINERID: 'c1',
        CNI_IFNAME: mutateChars('eth0', alphabet, rnd, 2),
        CNI_NETNS: mutateChars('/run/netns/pod-1', alphabet, rnd, 2),
      };
      let att: ReturnType<typeof parseEnv>;
      try {
        att = parseEnv(env, 'ADD');
      } catch (e) {
        assert.ok(e instanceof CniError && e.code === 4, `${JSON.stringify(env)}: ${e}`);
        continue;
      }
      accepted++;
      const { node, pod } = renderPodPlumbing({ ...att, ip: '10.244.0.5', mtu: 1500 });
      for (const line of [...node, ...pod]) {
        // ip -batch splits on whitespace, reads a token starting with "#" as a comment and honours quotes.
        assert.ok(!/[\n\r"'\\]/.test(line) && !/(^|\s)#/.test(line), `${JSON.stringify(env)}: ${line}`);
      }
      const tokens = node[0].split(' ');
      assert.equal(tokens[tokens.indexOf('name') + 1], att.ifname, 'the interface name is one token, whole');
      assert.equal(node[0].split(' ').at(-1), att.netns, 'the netns path is the last token, whole');
    }
    assert.ok(accepted > 1000, `accepted ${accepted}`);
  });

  it('reads CNI_ARGS pairs and ignores junk', () => {
    assert.deepEqual(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAME=web;junk;=x'), {
      IgnoreUnknown: '1',
      K8S_POD_NAME: 'web',
    });
  });
});

describe('CNI config on stdin', () => {
  it('parses a podman request and keeps prevResult', () => {
    const c = parseConfig(conf({ prevResult: { ips: [] }, capabilities: { ips: true } }), 'DEL');
    assert.equal(c.cniVersion, '1.0.0');
    assert.equal(c.name, 'podnet');
    assert.deepEqual(c.prevResult, { ips: [] });
  });

  it('takes the longest container id whose owner alias fits the kernel', () => {
    const id = 'c'.repeat(255 - 'podnet:/eth0'.length);
    assert.equal(
      parseEnv({ CNI_CONTAINERID: id, CNI_IFNAME: 'eth0', CNI_NETNS: '/run/netns/x' }, 'ADD').containerId,
      id,
    );
  });

  // Issue 14, fault 6: bytes that are not UTF-8 were replaced with U+FFFD and the config accepted.
  it('code 6 for stdin that is not UTF-8', () => {
    assert.equal(decodeStdin(Buffer.from('{"name":"ü"}')), '{"name":"ü"}');
    for (const bytes of [[0xff], [0x7b, 0xc3, 0x28, 0x7d], [0xed, 0xa0, 0x80]]) {
      assert.equal(cniError(() => decodeStdin(Uint8Array.from(bytes))).code, 6, `bytes ${bytes}`);
    }
  });

  // Issue 14, fault 6: a NUL byte in stdin was accepted (the old shim's shell variable dropped it silently).
  it('code 6 for stdin holding a NUL byte, wherever it is', () => {
    for (const text of ['{"cniVersion":"1.0.0","name":"a\0b"}', '\0{"cniVersion":"1.0.0"}', '{}\0']) {
      const e = cniError(() => decodeStdin(Buffer.from(text)));
      assert.deepEqual([e.code, e.details], [6, 'stdin holds a NUL byte'], JSON.stringify(text));
    }
  });

  it('code 6 for undecodable stdin, 7 for an invalid config', () => {
    assert.equal(cniError(() => parseConfig('{"cniVersion":', 'ADD')).code, 6);
    assert.equal(cniError(() => parseConfig('[1]', 'ADD')).code, 6);
    assert.equal(cniError(() => parseConfig('{"name":"x"}', 'ADD')).code, 7);
    assert.equal(cniError(() => parseConfig(conf({ name: 'bad name' }), 'ADD')).code, 7);
    assert.equal(cniError(() => parseConfig(conf({ agentSocket: 5 }), 'ADD')).code, 7);
  });

  it('code 1 for an unknown version, naming what is supported', () => {
    const e = cniError(() => parseConfig(conf({ cniVersion: '9.9.9' }), 'ADD'));
    assert.equal(e.code, 1);
    assert.match(e.details ?? '', /"9\.9\.9".*1\.1\.0/);
  });

  it('code 1 for CHECK before 0.4.0 and GC/STATUS before 1.1.0', () => {
    assert.equal(cniError(() => parseConfig(conf({ cniVersion: '0.3.1' }), 'CHECK')).code, 1);
    assert.equal(cniError(() => parseConfig(conf(), 'GC')).code, 1);
    assert.equal(cniError(() => parseConfig(conf(), 'STATUS')).code, 1);
    assert.equal(parseConfig(conf({ cniVersion: '1.1.0' }), 'STATUS').cniVersion, '1.1.0');
  });

  it('GC reads valid-attachments, or the legacy attachments key; absent means none', () => {
    const list = [{ containerID: 'a', ifname: 'eth0' }];
    const v11 = (o: Record<string, unknown>) => conf({ cniVersion: '1.1.0', ...o });
    assert.deepEqual(parseConfig(v11({ 'cni.dev/valid-attachments': list }), 'GC').validAttachments, [
      { containerId: 'a', ifname: 'eth0' },
    ]);
    assert.deepEqual(parseConfig(v11({ 'cni.dev/attachments': list }), 'GC').validAttachments, [
      { containerId: 'a', ifname: 'eth0' },
    ]);
    assert.deepEqual(parseConfig(v11({}), 'GC').validAttachments, []);
    assert.equal(
      cniError(() => parseConfig(v11({ 'cni.dev/valid-attachments': [{ id: 1 }] }), 'GC')).code,
      7,
    );
  });

  it('renders errors in the version asked, falling back to the newest for unusable input', () => {
    assert.equal(askedVersion(conf({ cniVersion: '0.4.0' })), '0.4.0');
    assert.equal(askedVersion('garbage'), '1.1.0');
    assert.deepEqual(JSON.parse(renderError(new CniError(7, 'bad', 'why'), '0.4.0')), {
      cniVersion: '0.4.0',
      code: 7,
      msg: 'bad',
      details: 'why',
    });
  });

  it('fuzz: any mutation of a valid config parses or fails with code 1, 6 or 7, never anything else', () => {
    const seeds = [
      conf(),
      conf({ prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/32', interface: 1 }] } }),
      conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'c1', ifname: 'eth0' }] }),
    ];
    const alphabet = '{}[]":,0123456789.abcnul \\';
    const rnd = mulberry32(42);
    let parsed = 0;
    for (let i = 0; i < 20_000; i++) {
      const s = mutateChars(seeds[i % seeds.length], alphabet, rnd);
      for (const cmd of ['ADD', 'DEL', 'CHECK', 'GC'] as const) {
        try {
          const c = parseConfig(s, cmd);
          assert.equal(typeof c.cniVersion, 'string');
          assert.equal(typeof c.name, 'string');
          parsed++;
        } catch (e) {
          assert.ok(e instanceof CniError, `input ${JSON.stringify(s)} threw ${e}`);
          assert.ok([1, 6, 7].includes(e.code), `input ${JSON.stringify(s)} gave code ${e.code}`);
        }
      }
    }
    assert.ok(parsed > 0, 'some mutations still parse');
  });
});

describe('results in the version asked', () => {
  const result = {
    interfaces: [
      { name: 'pnvabc', mac: '02:00:00:00:00:01' },
      { name: 'eth0', mac: '0a:00:00:00:00:02', mtu: 1500, sandbox: '/run/netns/p' },
    ],
    ips: [{ address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 1 }],
    routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
    dns: {},
  };

  it('1.0.0: no per-IP version, no interface mtu', () => {
    const r = JSON.parse(renderResult(result, '1.0.0'));
    assert.equal(r.cniVersion, '1.0.0');
    assert.deepEqual(r.ips[0], { address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 1 });
    assert.equal(r.interfaces[1].mtu, undefined);
    assert.equal(r.interfaces[1].mac, '0a:00:00:00:00:02');
  });

  it('1.1.0 adds the interface mtu; 0.4.0 carries the IP version', () => {
    assert.equal(JSON.parse(renderResult(result, '1.1.0')).interfaces[1].mtu, 1500);
    assert.equal(JSON.parse(renderResult(result, '0.4.0')).ips[0].version, '4');
  });

  it('VERSION lists what the plugin speaks', () => {
    assert.deepEqual(JSON.parse(renderVersion('1.0.0')).supportedVersions, [
      '0.3.0',
      '0.3.1',
      '0.4.0',
      '1.0.0',
      '1.1.0',
    ]);
    assert.equal(compareVersions('0.4.0', '1.0.0'), -1);
    assert.equal(compareVersions('1.1.0', '1.1.0'), 0);
  });
});
