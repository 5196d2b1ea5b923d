/**
 * Runs many worker.js children at once for the concurrency tests: waits until every child is ready, then
 * releases them together, so their requests truly overlap. Kills only its own children, by pid.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openStore } from '../open.js';
import { testProfile } from './profile.js';

export const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

export interface Worker {
  child: ChildProcess;
  /** Parsed JSON lines the child printed after `ready`. */
  results: Record<string, unknown>[];
  exited: Promise<number | null>;
}

export function startWorker(args: string[]): { worker: Worker; ready: Promise<void> } {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const results: Record<string, unknown>[] = [];
  let buffered = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout?.on('data', (b: Buffer) => {
    buffered += b.toString();
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const v = JSON.parse(line);
      if (v === 'ready') markReady();
      else results.push(v);
      nl = buffered.indexOf('\n');
    }
  });
  // 'close', not 'exit': 'exit' may fire before the child's stdout is drained, and its last lines are the results.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  exited.then(() => markReady()); // a child that died before ready must not hang the test
  return { worker: { child, results, exited }, ready };
}

/** Starts all children, waits until each is ready (in batches, to spare the two cores), then says go to all. */
export async function runTogether(argsList: string[][], batch = 50): Promise<Worker[]> {
  const workers: Worker[] = [];
  for (let i = 0; i < argsList.length; i += batch) {
    const started = argsList.slice(i, i + batch).map(startWorker);
    await Promise.all(started.map((s) => s.ready));
    workers.push(...started.map((s) => s.worker));
  }
  for (const w of workers) w.child.stdin?.write('go\n');
  return workers;
}

export function killAll(workers: Worker[], signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const w of workers) if (w.child.exitCode === null && w.child.pid) process.kill(w.child.pid, signal);
}

/** 200 processes claim a block each at the same moment; asserts every block went out exactly once. */
export async function claimAtOnce(url: string, count = 200): Promise<void> {
  const store = await openStore(url);
  try {
    await store.putCluster(testProfile('10.244.0.0/16'), 0);
    const nodes = Array.from({ length: count }, (_, i) => `node-${i}`);
    const workers = await runTogether(nodes.map((n) => ['claim', url, n]));
    await Promise.all(workers.map((w) => w.exited));
    const results = workers.flatMap((w) => w.results) as {
      node: string;
      block?: string;
      error?: string;
      attempts?: number;
    }[];
    assert.deepEqual(
      results.filter((r) => r.error),
      [],
      'no claim failed',
    );
    assert.equal(results.length, count);
    const blocks = results.map((r) => r.block);
    const retried = results.filter((r) => (r.attempts ?? 1) > 1).length;
    if (retried > 0) process.stderr.write(`${url}: ${retried} of ${count} claims needed a retry\n`);
    assert.equal(new Set(blocks).size, count, 'every block handed out exactly once');
    const listed = await store.listBlocks();
    assert.deepEqual(
      listed.map((l) => `${l.nodeName}=${l.block}`).sort(),
      results.map((r) => `${r.node}=${r.block}`).sort(),
      'the store holds exactly the confirmed claims',
    );
  } finally {
    await store.close();
  }
}
