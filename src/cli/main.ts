/**
 * podnet's command line: wires each component's commands into one program. Each command module under
 * ./commands registers its own verbs; this file only parses, dispatches and maps failures to exit codes.
 */
import { Command, CommanderError } from 'commander';
import { PODNET_VERSION } from '../agent/metrics.js';
import { PodnetError } from '../errors/index.js';
import { registerAgent } from './commands/agent.js';
import { registerCluster } from './commands/cluster.js';
import { registerCni } from './commands/cni.js';
import { registerDemo } from './commands/demo.js';
import { registerIpam } from './commands/ipam.js';
import { registerLab } from './commands/lab.js';
import { registerMap } from './commands/map.js';
import { registerNsg } from './commands/nsg.js';
import { registerObjects } from './commands/objects.js';
import { registerPlan } from './commands/plan.js';
import { registerStatus } from './commands/status.js';
import { registerStore } from './commands/store.js';
import { registerSysdump } from './commands/sysdump.js';
import { registerTrace } from './commands/trace.js';
import { registerVersion } from './commands/version.js';
import { EXIT, type Io, processIo, renderError, setTableHeaders, wantsJson } from './output.js';

export interface CliContext {
  io: Io;
  /** Set by a command's action: the process exit code. */
  exitCode: number;
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('podnet')
    .description('podnet: the Azure CNI Overlay pod network model on plain Linux hosts')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok; 1 problems found (invalid plan, failed check); 2 unusable input; 3 store or agent unreachable.',
    )
    .version(PODNET_VERSION, '--version', 'print the version of podnet')
    .option('--no-headers', 'print tables without their header line (for scripts)')
    .hook('preAction', (root) => setTableHeaders(root.opts().headers !== false))
    .showSuggestionAfterError(true)
    .exitOverride()
    // Commander's own errors are not printed by commander: main renders them as every podnet error (code,
    // field, hint), in the output format asked for.
    .configureOutput({
      writeOut: (s) => ctx.io.out(s),
      writeErr: (s) => ctx.io.err(s),
      outputError: () => {},
    });
  for (const register of [
    registerPlan,
    registerCluster,
    registerIpam,
    registerAgent,
    registerCni,
    registerLab,
    registerDemo,
    registerObjects,
    registerTrace,
    registerStore,
    registerNsg,
    registerStatus,
    registerSysdump,
    registerMap,
    registerVersion,
  ]) {
    register(program, ctx);
  }
  return program;
}

/**
 * A commander parse error as a PodnetError: the flag it names as the field, its suggestion ("Did you mean
 * --pod-cidr?", a command's own advice in parentheses on the next line) and the command's help as the hint.
 */
export function usageError(err: CommanderError, program: Command, argv: string[]): PodnetError {
  const [first, ...more] = err.message.replace(/^error: /, '').split('\n');
  const message = first.trim();
  const advice = more.map((l) => l.trim().replace(/^\((.*)\)$/, '$1')).filter((l) => l !== '');
  const flag = /'(-[^' ]*)/.exec(message)?.[1];
  let cmd = program;
  for (const word of argv) {
    const sub = cmd.commands.find((c) => c.name() === word);
    if (!sub) break;
    cmd = sub;
  }
  const path = [];
  for (let c: Command | null = cmd; c; c = c.parent) path.unshift(c.name());
  const unknown = err.code === 'commander.unknownOption' || err.code === 'commander.unknownCommand';
  return new PodnetError(unknown ? (flag ? 'UnknownFlag' : 'UnknownCommand') : 'UsageError', message, {
    field: flag,
    hint: advice.some((a) => a.includes('--help'))
      ? advice.join('; ')
      : [...advice, `see ${path.join(' ')} --help`].join('; '),
  });
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const ctx: CliContext = { io, exitCode: EXIT.ok };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every other parse failure is unusable input.
      if (err.exitCode === 0) return EXIT.ok;
      renderError(usageError(err, program, argv), wantsJson(argv) ? 'json' : 'table', io);
      return EXIT.usage;
    }
    return renderError(err, wantsJson(argv) ? 'json' : 'table', io);
  }
}
