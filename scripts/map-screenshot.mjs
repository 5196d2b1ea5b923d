#!/usr/bin/env node
// Writes docs/map.png: `podnet map` of a demo-like store (src/map/testing/demo-store.ts) as Debian's chromium
// shows it. Run after a build: node scripts/map-screenshot.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { demoNsg, writeDemoLikeStore } from '../dist/src/map/testing/demo-store.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-map-shot-'));
try {
  const url = `sqlite:${join(dir, 'cluster.db')}`;
  await writeDemoLikeStore(url);
  const page = join(dir, 'map.html');
  const nsg = join(dir, 'nsg.json');
  writeFileSync(nsg, JSON.stringify(demoNsg()));
  const r = spawnSync(
    process.execPath,
    ['bin/podnet.js', 'map', '--store', url, '--nsg', nsg, '--out', page],
    {
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) process.exit(1);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const tab = await browser.newPage({ viewport: { width: 1280, height: 700 }, deviceScaleFactor: 1 });
  await tab.goto(pathToFileURL(page).href);
  await tab.locator('svg').first().screenshot({ path: 'docs/map.png' });
  await browser.close();
  console.error('wrote docs/map.png');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
