#!/usr/bin/env node
// Runs podnet's tests with node's own runner, in two phases:
//  - unit tests (`*.test.js`, pure, no root) run concurrently;
//  - integration tests (`*.int.test.js`: real kernel namespaces, nftables, etcd, podman) run one file at a
//    time, because they share the host's kernel and the machine has two cores.
// Pass file name fragments to run a subset: `npm test -- ipam`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const all = walk('dist/src')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const integration = all.filter((f) => f.endsWith('.int.test.js'));
const unit = all.filter((f) => !f.endsWith('.int.test.js'));

let failed = false;
for (const [files, concurrency] of [
  [unit, 2],
  [integration, 1],
]) {
  if (files.length === 0) continue;
  const r = spawnSync(
    process.execPath,
    ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) failed = true;
}
process.exitCode = failed ? 1 : 0;
