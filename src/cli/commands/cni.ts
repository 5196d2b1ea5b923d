import type { Command } from 'commander';
import { DEFAULT_AGENT_SOCKET, installCni } from '../../cni/install.js';
import type { CliContext } from '../main.js';
import { EXIT, OUTPUT_HELP, examples, isData, parseOutputFormat, serialize, table } from '../output.js';

/** Registers `install-cni`. */
export function registerCni(program: Command, ctx: CliContext): void {
  program
    .command('install-cni')
    .description('install the podnet-cni plugin and its conflist for a container runtime (idempotent)')
    .option('--bin-dir <dir>', 'where the runtime looks for CNI plugins', '/opt/cni/bin')
    .option('--conf-dir <dir>', 'where the runtime reads *.conflist files', '/etc/cni/net.d')
    .option('--socket <path>', 'the podnet agent socket the plugin talks to', DEFAULT_AGENT_SOCKET)
    .option('--name <name>', 'CNI network name', 'podnet')
    .option('--conf-file <file>', 'conflist file name inside --conf-dir', '10-podnet.conflist')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText(
      'after',
      examples(
        'podnet install-cni',
        'podnet install-cni --bin-dir /usr/lib/cni --conf-dir /etc/cni/net.d -o json',
      ),
    )
    .action(
      (opts: {
        binDir: string;
        confDir: string;
        socket: string;
        name: string;
        confFile: string;
        output: string;
      }) => {
        const format = parseOutputFormat(opts.output);
        const r = installCni(opts);
        if (isData(format)) ctx.io.out(serialize(format, 'CniInstall', r));
        else {
          ctx.io.out(
            table(
              ['file', 'state'],
              [r.plugin, r.conflist].map((f) => [f, r.changed.includes(f) ? 'written' : 'unchanged']),
            ),
          );
        }
        ctx.exitCode = EXIT.ok;
      },
    );
}
