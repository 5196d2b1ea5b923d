/**
 * podnet's command line: wires each component's commands into one program. Each command module under
 * ./commands registers its own verbs; this file only parses, dispatches and maps failures to exit codes.
 */
import { Command, CommanderError } from 'commander';
import { registerAgent } from './commands/agent.js';
import { registerCluster } from './commands/cluster.js';
import { registerCni } from './commands/cni.js';
import { registerDemo } from './commands/demo.js';
import { registerIpam } from './commands/ipam.js';
import { registerLab } from './commands/lab.js';
import { registerPlan } from './commands/plan.js';
import { EXIT, type Io, processIo, renderError, wantsJson } from './output.js';

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
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
  for (const register of [
    registerPlan,
    registerCluster,
    registerIpam,
    registerAgent,
    registerCni,
    registerLab,
    registerDemo,
  ]) {
    register(program, ctx);
  }
  return program;
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
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return renderError(err, wantsJson(argv) ? 'json' : 'table', io);
  }
}
