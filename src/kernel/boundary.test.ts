/**
 * The rule that keeps the raw runner (`exec.ts`) and `node:child_process` inside src/kernel, checked two ways
 * so that it cannot silently rot: biome, with the project's own biome.json, must refuse the import from every
 * folder of the tree (a new folder depth needs its relative spelling listed, since biome matches paths
 * literally), and no source file outside src/kernel may import the runner under any spelling.
 */
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execInNetns } from './process.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RUNNER = join(ROOT, 'src/kernel/exec.ts');

/** Every TypeScript/JS source file under the linted roots (what `npm run lint` checks). */
function sources(dir = ROOT, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (dir === ROOT && !['src', 'bench', 'scripts'].includes(e.name)) continue;
      sources(p, out);
    } else if (/\.(ts|mjs|js)$/.test(e.name)) out.push(p);
  }
  return out;
}

const isKernel = (file: string) => relative(join(ROOT, 'src/kernel'), file).split('/')[0] !== '..';

/** The relative specifier that names the runner from a file in `dir`, as the project writes imports. */
function runnerSpecifier(dir: string): string {
  const r = relative(dir, RUNNER).replace(/\.ts$/, '.js');
  return r.startsWith('.') ? r : `./${r}`;
}

async function lint(tree: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-lint-'));
  try {
    const config = JSON.parse(readFileSync(join(ROOT, 'biome.json'), 'utf8'));
    config.$schema = undefined;
    writeFileSync(join(dir, 'biome.json'), JSON.stringify(config));
    for (const [file, text] of Object.entries(tree)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    const biome = join(ROOT, 'node_modules/.bin/biome');
    const r = await execInNetns(null, [biome, 'lint', '--max-diagnostics=500', '--colors=off', '.'], {
      cwd: dir,
      timeoutMs: 60_000,
    });
    return r.stdout + r.stderr;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `file:line` of each noRestrictedImports finding in biome's report. */
function findings(report: string): string[] {
  return [...report.matchAll(/^(?:\.\/)?(\S+):(\d+):\d+ lint\/nursery\/noRestrictedImports/gm)].map(
    (m) => `${m[1]}:${m[2]}`,
  );
}

describe('kernel boundary', () => {
  it('biome refuses the raw runner from every folder outside src/kernel, and allows it inside', async () => {
    const dirs = [...new Set(sources().map((f) => dirname(f)))];
    const tree: Record<string, string> = {};
    for (const d of dirs) {
      const spec = runnerSpecifier(d);
      tree[join(relative(ROOT, d), 'zz-probe.ts')] =
        `import { run } from '${spec}';\nexport const probe = run;\n`;
    }
    const found = new Set(findings(await lint(tree)));
    for (const d of dirs) {
      const probe = `${join(relative(ROOT, d), 'zz-probe.ts')}:1`;
      if (isKernel(join(d, 'x'))) assert.ok(!found.has(probe), `${probe}: allowed inside src/kernel`);
      else assert.ok(found.has(probe), `${probe}: biome must refuse ${runnerSpecifier(d)}`);
    }
  });

  it('biome refuses node:child_process except in the files allowed to start programs themselves', async () => {
    const spawnProbe = "import { spawn } from 'node:child_process';\nexport const probe = spawn;\n";
    const found = new Set(
      findings(
        await lint({
          'src/dataplane/zz-probe.ts': spawnProbe,
          'src/lab/zz-probe.ts': spawnProbe,
          'bench/zz-probe.ts': spawnProbe,
          'src/kernel/zz-probe.ts': spawnProbe,
          'src/store/testing/zz-probe.ts': spawnProbe,
        }),
      ),
    );
    assert.deepEqual([...found].sort(), [
      'bench/zz-probe.ts:1',
      'src/dataplane/zz-probe.ts:1',
      'src/lab/zz-probe.ts:1',
    ]);
  });

  it('no source file outside src/kernel imports the raw runner, under any spelling', () => {
    const offenders: string[] = [];
    for (const file of sources()) {
      if (isKernel(file)) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        const target = resolve(dirname(file), m[1]).replace(/^(.*\/)dist\/src\//, '$1src/');
        if (m[1].startsWith('.') && target.replace(/\.(js|ts)$/, '') === RUNNER.replace(/\.ts$/, ''))
          offenders.push(`${relative(ROOT, file)}: ${m[1]}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
