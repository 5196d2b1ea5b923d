/**
 * `podnet apply|get|delete`: Kubernetes-shaped cluster objects in the store, with kubectl's flags, output and
 * messages. The decisions live in src/objects; this file parses flags, opens the store and prints.
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { PodnetError } from '../../errors/index.js';
import { requireLab, resolveLabName } from '../../lab/state.js';
import { DEFAULT_NAMESPACE } from '../../objects/apply.js';
import { type DeleteTarget, deleteTargetsOf } from '../../objects/delete.js';
import type { ObjectKind } from '../../objects/kind.js';
import { readManifests } from '../../objects/manifests.js';
import { objectsInvalid } from '../../objects/problems.js';
import { resolveResource } from '../../objects/registry.js';
import { parseSelector } from '../../objects/selector.js';
import { applyDocuments, deleteObjects, getObjects } from '../../objects/store.js';
import type { KubeList, KubeObject } from '../../objects/types.js';
import { openVersionedStore, storeUrl } from '../../store/open.js';
import type { VersionedStore } from '../../store/versioned.js';
import type { CliContext } from '../main.js';
import { OUTPUT_HELP, type OutputFormat, isData, parseOutputFormat, serialize, table } from '../output.js';

interface StoreOpts {
  store?: string;
  lab?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** The store of --store, else --lab's (its state file names it), else $PODNET_STORE or the default. */
export function objectStoreUrl(opts: StoreOpts): string {
  if (opts.store !== undefined && opts.lab !== undefined) {
    throw new PodnetError('UsageError', '--store and --lab both name a store', {
      field: '--lab',
      hint: 'give one of them',
    });
  }
  if (opts.lab !== undefined) return requireLab(resolveLabName(opts.lab)).store.url;
  return storeUrl(opts.store);
}

/**
 * Opens the store for `fn`. Only apply may create a sqlite store: a read or a delete must not leave an empty
 * file behind a mistyped path.
 */
async function withObjectStore<T>(
  opts: StoreOpts,
  fn: (store: VersionedStore) => Promise<T>,
  create = false,
): Promise<T> {
  const store = await openVersionedStore(objectStoreUrl(opts), { create });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function storeOptions(cmd: Command): Command {
  return cmd
    .option('--store <url>', 'cluster store URL (env PODNET_STORE)')
    .option('--lab <name>', "the store of the lab NAME (podnet lab up); '' = the only lab on this host");
}

type GetFormat = 'table' | 'wide' | 'json' | 'yaml';

function parseGetFormat(v: string): GetFormat {
  if (v === 'table' || v === 'wide' || v === 'json' || v === 'yaml') return v;
  throw new PodnetError('UsageError', `unknown output format "${v}"`, {
    field: '--output',
    hint: 'use -o table, -o wide, -o json or -o yaml',
  });
}

/** kubectl's table: the kind's columns (wide ones with -o wide), NAMESPACE first with -A. */
export function renderTable(
  kind: ObjectKind,
  items: KubeObject[],
  wide: boolean,
  allNamespaces: boolean,
  now: Date,
): string {
  const columns = kind.columns.filter((c) => wide || !c.wide);
  const withNs = allNamespaces && kind.namespaced;
  const headers = [...(withNs ? ['NAMESPACE'] : []), ...columns.map((c) => c.header)];
  const rows = items.map((o) => [
    ...(withNs ? [o.metadata.namespace ?? ''] : []),
    ...columns.map((c) => c.value(o, now)),
  ]);
  return table(headers, rows);
}

const APPLY_EXAMPLES = `
Examples:
  podnet apply -f web.yaml --store memory:demo
  podnet apply -f manifests/ -f extra.yaml --lab demo     every file of a directory, several -f
  cat pods.yaml | podnet apply -f - -n team-a            standard input, into namespace team-a
One apply is one transaction: any invalid object, stale resourceVersion or concurrent change applies nothing.`;

const GET_EXAMPLES = `
Examples:
  podnet get pods -A --lab demo
  podnet get po web -n team-a -o yaml
  podnet get pods -l 'app=web,tier notin (db),!canary' -o wide
  podnet get namespaces -o json`;

const DELETE_EXAMPLES = `
Examples:
  podnet delete -f web.yaml
  podnet delete pod web -n team-a
  podnet delete namespace team-a          also deletes every object in it, in the same transaction
  podnet delete pod old --ignore-not-found`;

export function registerObjects(program: Command, ctx: CliContext): void {
  storeOptions(
    program
      .command('apply')
      .description('create or update cluster objects from manifests (multi-document YAML, JSON, a List)')
      .option('-f, --filename <path>', 'a manifest file, a directory of them, or - (repeatable)', collect, [])
      .option('-n, --namespace <ns>', 'namespace of objects that name none (default "default")')
      .option('-o, --output <format>', OUTPUT_HELP, 'table'),
  )
    .addHelpText('after', APPLY_EXAMPLES)
    .action(async (o: StoreOpts & { filename: string[]; namespace?: string; output: string }) => {
      const format = parseOutputFormat(o.output);
      const decoded = readManifests(o.filename);
      const outcomes = await withObjectStore(
        o,
        (store) => applyDocuments(store, decoded, { namespace: o.namespace }),
        true,
      );
      ctx.io.out(
        isData(format)
          ? serialize(format, 'ApplyResult', { results: outcomes })
          : outcomes.map((r) => `${r.ref} ${r.action}`).join('\n'),
      );
    });

  storeOptions(
    program
      .command('get')
      .description('list or show cluster objects, as kubectl get')
      .argument('<kind>', 'pods|pod|po, namespaces|namespace|ns')
      .argument('[name]', 'one object')
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('-A, --all-namespaces', 'every namespace')
      .option('-l, --selector <selector>', "label selector: k=v, k!=v, 'k in (a,b)', 'k notin (a,b)', k, !k")
      .option('-o, --output <format>', 'table, wide, json or yaml', 'table'),
  )
    .addHelpText('after', GET_EXAMPLES)
    .action(
      async (
        kindWord: string,
        name: string | undefined,
        o: StoreOpts & { namespace?: string; allNamespaces?: boolean; selector?: string; output: string },
      ) => {
        const format = parseGetFormat(o.output);
        const kind = resolveResource(kindWord);
        const selector = parseSelector(o.selector ?? '');
        if (o.allNamespaces && name !== undefined) {
          throw new PodnetError(
            'UsageError',
            'a resource cannot be retrieved by name across all namespaces',
            {
              field: '--all-namespaces',
              hint: 'give the namespace with -n instead',
            },
          );
        }
        const namespace = o.allNamespaces ? undefined : (o.namespace ?? DEFAULT_NAMESPACE);
        const { revision, items } = await withObjectStore(o, (store) =>
          getObjects(store, kind, { name, namespace, selector }),
        );
        if (format === 'json' || format === 'yaml') {
          const list: KubeList = {
            apiVersion: 'v1',
            kind: 'List',
            metadata: { resourceVersion: String(revision) },
            items,
          };
          const body = name !== undefined && items.length === 1 ? items[0] : list;
          ctx.io.out(format === 'json' ? JSON.stringify(body, null, 2) : stringify(body));
          return;
        }
        if (items.length === 0) {
          ctx.io.err(
            kind.namespaced && namespace !== undefined
              ? `No resources found in ${namespace} namespace.`
              : 'No resources found',
          );
          return;
        }
        ctx.io.out(renderTable(kind, items, format === 'wide', namespace === undefined, new Date()));
      },
    );

  storeOptions(
    program
      .command('delete')
      .description('delete cluster objects by manifest or by kind and name, in one transaction')
      .argument('[kind]', 'pods|pod|po, namespaces|namespace|ns')
      .argument('[names...]', 'the objects')
      .option('-f, --filename <path>', 'the objects a manifest names (repeatable)', collect, [])
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('--ignore-not-found', 'treat objects that do not exist as deleted')
      .option('-o, --output <format>', OUTPUT_HELP, 'table'),
  )
    .addHelpText('after', DELETE_EXAMPLES)
    .action(
      async (
        kindWord: string | undefined,
        names: string[],
        o: StoreOpts & { filename: string[]; namespace?: string; ignoreNotFound?: boolean; output: string },
      ) => {
        const format: OutputFormat = parseOutputFormat(o.output);
        const targets = deleteTargets(kindWord, names, o);
        const outcomes = await withObjectStore(o, (store) =>
          deleteObjects(store, targets, o.ignoreNotFound === true),
        );
        ctx.io.out(
          isData(format)
            ? serialize(format, 'DeleteResult', { results: outcomes })
            : outcomes.map((r) => r.text).join('\n'),
        );
      },
    );
}

function deleteTargets(
  kindWord: string | undefined,
  names: string[],
  o: { filename: string[]; namespace?: string },
): DeleteTarget[] {
  if (o.filename.length > 0) {
    if (kindWord !== undefined) {
      throw new PodnetError('UsageError', 'give either -f or KIND NAME, not both', {
        field: '--filename',
        hint: 'see podnet delete --help',
      });
    }
    const decoded = readManifests(o.filename);
    const { targets, problems } = deleteTargetsOf(decoded.documents, o.namespace);
    if (decoded.problems.length || problems.length) throw objectsInvalid([...decoded.problems, ...problems]);
    return targets;
  }
  if (kindWord === undefined || names.length === 0) {
    throw new PodnetError('UsageError', 'name what to delete', {
      field: 'KIND',
      hint: 'podnet delete KIND NAME [-n NS], or podnet delete -f FILE',
    });
  }
  const kind = resolveResource(kindWord);
  return names.map((name) => ({
    kind,
    name,
    ...(kind.namespaced ? { namespace: o.namespace ?? DEFAULT_NAMESPACE } : {}),
  }));
}
