/**
 * `podnet store certs --out DIR`: a CA, etcd member certificates and client certificates for running the
 * store over mutual TLS (src/store/certs.ts; made with the host's openssl, see docs/store.md).
 */
import type { Command } from 'commander';
import { DEFAULT_CERT_DAYS, writeStoreCerts } from '../../store/certs.js';
import type { CliContext } from '../main.js';
import { OUTPUT_HELP, emit, examples, parseOutputFormat } from '../output.js';

interface CertsOpts {
  out: string;
  server?: string;
  serverSan: string[];
  client: string[];
  days: string;
  output: string;
}

const list = (v: string, prev: string[]) => [
  ...prev,
  ...v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
];

const EXAMPLES = `
Examples:
  podnet store certs --out /etc/podnet/pki --server etcd-1 --server-san 10.0.0.4,etcd-1.example.com,127.0.0.1,localhost \\
    --client node-1,node-2,operator
  podnet store certs --out /etc/podnet/pki --client node-3        # later: reuses the CA in the folder

Writes ca.crt/ca.key (once), NAME.crt/NAME.key per member and client, and NAME.yaml per client, the
credentials file for --store 'etcd:https://10.0.0.4:2379?credentials=/etc/podnet/pki/node-1.yaml'.
The folder is 0700 and every file 0600; copy each host only its own files and ca.crt (docs/store.md).`;

export function registerStore(program: Command, ctx: CliContext): void {
  const store = program
    .command('store')
    .description('the cluster store: certificates for etcd over mutual TLS')
    .addHelpText('after', examples('podnet store certs --out /etc/podnet/pki --client node-1,operator'));
  store
    .command('certs')
    .description('make a CA, etcd member certificates and client certificates (mutual TLS)')
    .requiredOption('--out <dir>', 'the folder to write (0700); its CA is reused when it has one')
    .option('--server <name>', 'an etcd member certificate of this name (needs --server-san)')
    .option('--server-san <list>', "the member's IPs and DNS names, comma-separated (repeatable)", list, [])
    .option(
      '--client <list>',
      'client certificates, one per name (node agents, operators; repeatable)',
      list,
      [],
    )
    .option('--days <n>', 'validity of member and client certificates', String(DEFAULT_CERT_DAYS))
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', EXAMPLES)
    .action(async (o: CertsOpts) => {
      const format = parseOutputFormat(o.output);
      const servers =
        o.server !== undefined || o.serverSan.length > 0
          ? [{ name: o.server ?? 'server', sans: o.serverSan }]
          : [];
      const r = await writeStoreCerts({ out: o.out, servers, clients: o.client, days: Number(o.days) });
      emit(ctx.io, format, 'StoreCertificates', r, () =>
        [
          `${r.caReused ? 'reused the CA in' : 'made a new CA in'} ${r.out}`,
          ...r.files.map((f) => `wrote ${f}`),
        ].join('\n'),
      );
    });
}
