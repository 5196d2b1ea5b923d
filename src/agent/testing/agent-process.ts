/**
 * Runs the real `podnet agent` (bin/podnet.js) as a child process for integration tests and the lab: start,
 * wait until ready, query its API, stop gracefully or kill -9 the agent itself (the process inside the netns).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { spawnInNetns } from '../../kernel/process.js';

/** `bin/podnet.js` of this checkout (dist/src/agent/testing → repo root). */
export const PODNET_BIN = fileURLToPath(new URL('../../../../bin/podnet.js', import.meta.url));

export interface AgentProcess {
  proc: ChildProcess;
  socket: string;
  /** Everything the agent wrote on stderr (its JSON log lines). */
  logs(): string;
  /** Resolves with the exit code (or 128 + signal) when the process is gone. */
  exited: Promise<number>;
}

/**
 * Starts `podnet agent --socket SOCKET ...args`. With `underNetns`, it is started already inside that namespace
 * (`nsenter --net=...`, as a unit file or the lab may do), so no relaying process is needed.
 */
export function spawnAgent(args: string[], socket: string, opts: { underNetns?: string } = {}): AgentProcess {
  const argv = [PODNET_BIN, 'agent', '--socket', socket, ...args];
  const proc = opts.underNetns
    ? spawnInNetns(opts.underNetns, [process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  proc.stderr?.on('data', (b: Buffer) => {
    logs += b.toString();
  });
  proc.stdout?.on('data', (b: Buffer) => {
    logs += b.toString();
  });
  const exited = new Promise<number>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  return { proc, socket, logs: () => logs, exited };
}

export function agentGet(
  socket: string,
  path: string,
  opts: { method?: string; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: socket, path, method: opts.method ?? 'GET', timeout: 10_000 },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout on ${path}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Polls /readyz until 200; fails with the agent's logs when it exits or the time is up. */
export async function waitReady(agent: AgentProcess, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let gone = false;
  void agent.exited.then(() => {
    gone = true;
  });
  while (Date.now() < end) {
    if (gone) throw new Error(`agent exited before ready:\n${agent.logs()}`);
    const r = await agentGet(agent.socket, '/readyz').catch(() => null);
    if (r?.status === 200) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`agent not ready after ${timeoutMs} ms:\n${agent.logs()}`);
}

/** SIGTERM (relayed into the netns by the parent) and wait for the exit; SIGKILL after `graceMs`. */
export async function stopAgent(agent: AgentProcess, graceMs = 15_000): Promise<number> {
  if (agent.proc.exitCode !== null || agent.proc.signalCode !== null) return agent.exited;
  agent.proc.kill('SIGTERM');
  const t = setTimeout(() => agent.proc.kill('SIGKILL'), graceMs);
  try {
    return await agent.exited;
  } finally {
    clearTimeout(t);
  }
}
