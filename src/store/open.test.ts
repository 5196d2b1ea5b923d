import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodnetError } from '../errors/index.js';
import { below, mulberry32, mutateChars } from '../testing/fuzz.js';
import { DEFAULT_ETCD_PREFIX, parseStoreUrl } from './open.js';

function refused(url: string, why: RegExp): void {
  assert.throws(
    () => parseStoreUrl(url),
    (e: unknown) =>
      e instanceof PodnetError &&
      e.code === 'InvalidStoreUrl' &&
      e.field === '--store' &&
      why.test(e.message) &&
      /sqlite:\/path/.test(e.hint ?? ''),
    url,
  );
}

describe('parseStoreUrl', () => {
  it('reads sqlite paths, etcd endpoints with their prefix, and memory store names', () => {
    assert.deepEqual(parseStoreUrl('memory:cli-test_1'), { kind: 'memory', name: 'cli-test_1' });
    assert.deepEqual(parseStoreUrl('sqlite:/var/lib/podnet/cluster.db'), {
      kind: 'sqlite',
      path: '/var/lib/podnet/cluster.db',
    });
    assert.deepEqual(parseStoreUrl('sqlite:///tmp/c.db'), { kind: 'sqlite', path: '/tmp/c.db' });
    assert.deepEqual(parseStoreUrl('etcd:https://10.0.0.4:2379, https://etcd-2:2379?prefix=/a/b/'), {
      kind: 'etcd',
      hosts: ['https://10.0.0.4:2379', 'https://etcd-2:2379'],
      prefix: '/a/b/',
      tls: true,
    });
    assert.equal(parseStoreUrl('etcd:http://[::1]:2379').prefix, DEFAULT_ETCD_PREFIX);
    assert.deepEqual(
      parseStoreUrl(
        'etcd:https://10.0.0.4:2379,unixs:///run/etcd/localhost:2379?credentials=/etc/podnet/store.yaml',
      ),
      {
        kind: 'etcd',
        hosts: ['https://10.0.0.4:2379', 'unixs:///run/etcd/localhost:2379'],
        prefix: DEFAULT_ETCD_PREFIX,
        tls: true,
        credentials: '/etc/podnet/store.yaml',
      },
    );
  });

  it('refuses what it would otherwise drop or misread, saying what is wrong', () => {
    refused('sqlite:', /file path is missing/);
    refused('sqlite:/tmp/a\0b', /NUL/);
    refused('mysql://x', /must start with sqlite:, etcd: or memory:/);
    refused('memory:', /the name must be/);
    refused('memory:a/b', /the name must be/);
    refused('etcd:', /endpoint is empty/);
    refused('etcd:http://a:1,,http://b:1', /endpoint is empty/);
    refused('etcd:127.0.0.1:2379', /is not a URL like http:\/\/127.0.0.1:2379/);
    refused('etcd:http://127.0.0.1', /must be http\(s\):\/\/HOST:PORT/);
    refused('etcd:http://user:pw@127.0.0.1:2379', /must be http\(s\):\/\/HOST:PORT/);
    refused('etcd:http://127.0.0.1:2379#x', /must be http\(s\):\/\/HOST:PORT/);
    refused('etcd:http://127.0.0.1:2379/v3', /must be http\(s\):\/\/HOST:PORT/);
    refused('etcd:http://127.0.0.1:1?prefix=x', /start and end with "\/"/);
    // A misspelt option would otherwise fall back to the default prefix: another cluster's keys.
    refused('etcd:http://127.0.0.1:1?prefx=/a/', /unknown option "prefx"/);
    refused('etcd:http://127.0.0.1:1?prefix=/a/&prefix=/b/', /more than once/);
    // A plain endpoint beside TLS ones would carry the same requests, and the client's key, unprotected.
    refused('etcd:https://127.0.0.1:1,http://127.0.0.1:2', /mix TLS/);
    refused('etcd:unixs://localhost:2379', /unixs:\/\/\/absolute\/path/);
    refused('etcd:https://127.0.0.1:1?credentials=store.yaml', /absolute path/);
    refused('etcd:https://127.0.0.1:1?cert=/a.crt', /unknown option "cert"/);
  });

  it('fuzz: any mutation of a valid URL parses to a usable store or is refused with InvalidStoreUrl', () => {
    const seeds = [
      'sqlite:/var/lib/podnet/cluster.db',
      'etcd:http://127.0.0.1:2379',
      'etcd:https://10.0.0.4:2379,https://[fd00::1]:2379?prefix=/podnet/v1/&credentials=/etc/podnet/store.yaml',
    ];
    const alphabet = 'sqlite:etcd/?&=,#@[]:.0123456789 htps\0%';
    const rnd = mulberry32(5);
    const seen = { sqlite: 0, etcd: 0, memory: 0, refused: 0 };
    for (let i = 0; i < 20_000; i++) {
      const url = mutateChars(seeds[below(rnd, seeds.length)], alphabet, rnd, 3);
      let parsed: ReturnType<typeof parseStoreUrl>;
      try {
        parsed = parseStoreUrl(url);
      } catch (e) {
        assert.ok(e instanceof PodnetError && e.code === 'InvalidStoreUrl', `${JSON.stringify(url)}: ${e}`);
        assert.ok(e.field === '--store' && e.hint, `${JSON.stringify(url)}: field and hint`);
        seen.refused++;
        continue;
      }
      seen[parsed.kind]++;
      if (parsed.kind === 'memory') continue;
      if (parsed.kind === 'sqlite') {
        assert.ok(
          parsed.path?.trim() && !parsed.path.includes('\0'),
          `${JSON.stringify(url)}: a usable path`,
        );
        continue;
      }
      assert.ok(
        parsed.prefix?.startsWith('/') && parsed.prefix.endsWith('/'),
        `${JSON.stringify(url)}: prefix`,
      );
      for (const h of parsed.hosts ?? []) {
        // Every endpoint is exactly scheme://host:port, so the client dials what the operator wrote.
        const u = new URL(h);
        assert.ok(['http:', 'https:'].includes(u.protocol) && u.port !== '', `${JSON.stringify(url)}: ${h}`);
        assert.equal(`${u.protocol}//${u.host}`, new URL(`${u.protocol}//${u.host}`).origin);
        assert.ok(!u.username && !u.password && !u.search && !u.hash && u.pathname === '/', h);
      }
    }
    for (const what of ['sqlite', 'etcd', 'refused'] as const)
      assert.ok(seen[what] > 1000, `${what}: ${seen[what]} times`);
  });
});
