/**
 * `podnet version [-o table|json]`: this podnet's version and what it was built to read, so a script can tell
 * before it talks to a store or an agent of another release.
 */
import type { Command } from 'commander';
import { PODNET_VERSION } from '../../agent/metrics.js';
import { SUPPORTED_VERSIONS } from '../../cni/protocol.js';
import { SQLITE_SCHEMA_VERSION } from '../../store/versioned-sqlite.js';
import type { CliContext } from '../main.js';
import { OUTPUT_HELP, emit, parseOutputFormat } from '../output.js';

export interface VersionInfo {
  apiVersion: 'podnet.io/v1alpha1';
  kind: 'Version';
  version: string;
  node: string;
  /** The sqlite store layout this podnet reads and writes (older ones are migrated at open). */
  storeSchema: number;
  cniVersions: readonly string[];
}

export function versionInfo(): VersionInfo {
  return {
    apiVersion: 'podnet.io/v1alpha1',
    kind: 'Version',
    version: PODNET_VERSION,
    node: process.version,
    storeSchema: SQLITE_SCHEMA_VERSION,
    cniVersions: SUPPORTED_VERSIONS,
  };
}

export function registerVersion(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description('the version of podnet, the store layout and the CNI versions it speaks')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', '\nExamples:\n  podnet version\n  podnet version -o json\n  podnet --version')
    .action((o: { output: string }) => {
      const v = versionInfo();
      emit(
        ctx.io,
        parseOutputFormat(o.output),
        'Version',
        v,
        () =>
          `podnet ${v.version} (Node.js ${v.node}); store schema ${v.storeSchema}; CNI ${v.cniVersions.join(', ')}`,
      );
    });
}
