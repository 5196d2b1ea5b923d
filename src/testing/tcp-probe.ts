/**
 * One bounded TCP connection between two of a test's own namespaces, reporting the source address the
 * receiver saw: the check behind "pod to pod keeps its address" and "pod to outside takes the node IP".
 */
import { randomBytes } from 'node:crypto';
import { execInNetns } from '../kernel/process.js';

/**
 * Listens on `toIp` (at `port`, else a random one) in `toNetns` (for `listenS` seconds at most), connects from
 * `fromNetns` (from the address `from` when given), and returns the source the listener saw, or 'nothing'.
 */
export async function sourceSeenBy(
  fromNetns: string,
  toNetns: string,
  toIp: string,
  opts: { from?: string; listenS?: number; port?: number } = {},
): Promise<string> {
  const port = opts.port ?? 5000 + (randomBytes(2).readUInt16BE() % 1000);
  const listener = execInNetns(toNetns, [
    'timeout',
    String(opts.listenS ?? 8),
    'nc',
    '-lvn',
    '-w',
    '2',
    toIp,
    String(port),
  ]);
  // Connect only once the listener is up (a loaded machine may take a while to start nc).
  for (let i = 0; i < 50; i++) {
    const ss = await execInNetns(toNetns, ['ss', '-Hltn', `sport = :${port}`]);
    if (ss.stdout.trim() !== '') break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const src = opts.from ? ['-s', opts.from] : [];
  await execInNetns(fromNetns, ['nc', '-N', '-w', '2', ...src, toIp, String(port)], { input: 'hello\n' });
  const l = await listener;
  const m = /Connection received on (\S+)/.exec(l.stderr + l.stdout);
  return m ? m[1] : 'nothing';
}
