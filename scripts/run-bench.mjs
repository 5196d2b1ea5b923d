#!/usr/bin/env node
// Runs every benchmark under dist/bench (or those whose file name contains an argument), prints each
// one's markdown report, and writes them into docs/benchmarks.md between the bench markers, so that page
// always shows the figures of the last run of each benchmark and the machine they were measured on.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = 'dist/bench';
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.js') && !f.startsWith('_'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}, measured ${new Date().toISOString().slice(0, 10)}`;
const sections = [];
for (const f of files) {
  const mod = await import(pathToFileURL(join(process.cwd(), dir, f)).href);
  const bench = mod.default;
  process.stderr.write(`bench: ${bench.name} ...\n`);
  const md = await bench.run();
  process.stdout.write(`\n${md}\n`);
  sections.push({ name: bench.name, md });
}

const page = 'docs/benchmarks.md';
const start = '<!-- bench:start -->';
const end = '<!-- bench:end -->';
const text = readFileSync(page, 'utf8');
const i = text.indexOf(start);
const j = text.indexOf(end);
if (i < 0 || j < i) {
  process.stderr.write(`bench: ${page} has no ${start} ... ${end} markers; figures not written\n`);
  process.exitCode = 1;
} else {
  // Keep sections of benchmarks not run this time; replace the ones that ran.
  const old = text.slice(i + start.length, j);
  const kept = new Map();
  for (const m of old.matchAll(/<!-- bench:(\S+) -->\n([\s\S]*?)<!-- \/bench:\1 -->/g)) kept.set(m[1], m[2]);
  for (const s of sections) kept.set(s.name, `Machine: ${machine}.\n\n${s.md.trim()}\n`);
  const body = [...kept.entries()]
    .map(([n, md]) => `<!-- bench:${n} -->\n${md}<!-- /bench:${n} -->`)
    .join('\n\n');
  writeFileSync(page, `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`);
  process.stderr.write(`bench: ${page} updated\n`);
}
