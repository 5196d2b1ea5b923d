import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CoalescedPass } from './coalesce.js';

it('runs one pass at a time; asks during a pass coalesce into one more, with the latest argument', async () => {
  const ran: string[] = [];
  let release: () => void = () => {};
  const c = new CoalescedPass<string>(
    async (arg) => {
      ran.push(arg);
      if (arg === 'a')
        await new Promise<void>((r) => {
          release = r;
        });
      return undefined;
    },
    () => false,
  );
  c.request('a');
  c.request('b');
  c.request('c');
  release();
  await c.settled();
  assert.deepEqual(ran, ['a', 'c']);
});

it('a pass that asks again from inside itself gets one more pass, not a second one alongside', async () => {
  let inside = 0;
  let most = 0;
  let runs = 0;
  const c: CoalescedPass = new CoalescedPass(
    async () => {
      inside++;
      most = Math.max(most, inside);
      runs++;
      if (runs === 1) c.request(); // a watch the pass started, calling back at once
      await Promise.resolve();
      inside--;
      return undefined;
    },
    () => false,
  );
  c.request();
  await c.settled();
  assert.deepEqual([runs, most], [2, 1]);
});

it("'stop' ends the series (the pass retries on its own); the next ask starts a new one; stopped ends all", async () => {
  let stopped = false;
  const ran: number[] = [];
  const c = new CoalescedPass<number>(
    async (n) => {
      ran.push(n);
      return n === 1 ? 'stop' : undefined;
    },
    () => stopped,
  );
  c.request(1);
  c.request(2);
  await c.settled();
  assert.deepEqual(ran, [1]);
  c.request(3);
  await c.settled();
  stopped = true;
  c.request(4);
  await c.settled();
  assert.deepEqual(ran, [1, 3]);
});
