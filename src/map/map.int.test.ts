/**
 * `podnet map` in a real headless browser: Debian's chromium (scripts/setup.sh installs it) driven by
 * playwright-core. The page made by the CLI (in process) from a demo-like store must render without console
 * errors or failed requests, show the VNet, both subnets, each node's block, the quarantined block and the DNS
 * service IP, and a screenshot is taken.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { main } from '../cli/main.js';
import { demoNsg, writeDemoLikeStore } from './testing/demo-store.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-map-browser-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The browser Debian's chromium package installs. */
const CHROMIUM = '/usr/bin/chromium';

describe('podnet map in a headless browser', () => {
  it('renders the demo-like map without errors, with its parts, and takes a screenshot', async () => {
    const url = `sqlite:${join(dir, 'cluster.db')}`;
    await writeDemoLikeStore(url);
    const page = join(dir, 'map.html');
    const nsg = join(dir, 'nsg.json');
    writeFileSync(nsg, JSON.stringify(demoNsg()));
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    assert.equal(await main(['map', '--store', url, '--nsg', nsg, '--out', page], io), 0, err.join(''));
    assert.equal(await main(['map', '--store', url, '-o', 'svg'], io), 0, err.join(''));
    assert.match(out.join(''), /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const tab = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const problems: string[] = [];
      tab.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      tab.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      tab.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
      const requests: string[] = [];
      tab.on('request', (r) => requests.push(r.url()));
      await tab.goto(pathToFileURL(page).href, { waitUntil: 'load' });

      assert.deepEqual(problems, []);
      assert.deepEqual(requests, [pathToFileURL(page).href], 'self-contained: the page loads nothing else');
      assert.equal(await tab.title(), 'podnet map: demo');
      assert.equal(await tab.locator('#vnet').count(), 1);
      assert.equal(await tab.locator('g.subnet').count(), 2);
      assert.equal(await tab.locator('g.node').count(), 3);
      assert.equal(await tab.locator('#subnet-demo-user rect.nsg').count(), 1, 'the NSG boundary');
      assert.equal(await tab.locator('#subnet-demo-sys rect.nsg').count(), 0);
      assert.equal(await tab.locator('#pod-cidr-0 rect.block.leased').count(), 3);
      assert.equal(await tab.locator('#pod-cidr-0 rect.block.quarantined').count(), 1);
      assert.equal(await tab.locator('#pod-cidr-0 rect.block').count(), 256);
      assert.match((await tab.locator('#dns-ip').textContent()) ?? '', /DNS service IP 10\.0\.0\.10/);
      // The SVG has a real size on screen (a broken document renders as 0x0 or as an error page).
      const box = await tab.locator('svg').first().boundingBox();
      assert.ok(box && box.width > 800 && box.height > 300, JSON.stringify(box));
      // A tooltip names the node of a block.
      const titles = await tab.locator('#pod-cidr-0 rect.block.leased title').allTextContents();
      assert.ok(
        titles.some((t) => /node demo-sys-0 \(10\.224\.0\.4\), 120\/250 pods/.test(t)),
        titles.join('; '),
      );

      const shot = join(dir, 'map.png');
      await tab.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 10_000);
      assert.deepEqual(
        [...readFileSync(shot).subarray(0, 8)],
        [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      );
    } finally {
      await browser.close();
    }
  });
});
