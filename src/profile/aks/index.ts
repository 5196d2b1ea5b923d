/**
 * One profile from the `-f` documents: podnet's own format (exactly one document, every unknown field
 * refused), or AKS input as Azure tools print it (translate.ts), validated by the same loader. Pure.
 */
import { PodnetError } from '../../errors/index.js';
import { profileFromObject } from '../normalize.js';
import type { ClusterProfile } from '../types.js';
import { type InputDocument, kindOf } from './documents.js';
import { translateAks } from './translate.js';

export { type InputDocument, kindOf } from './documents.js';
export { subnetIdParts, translateAks } from './translate.js';

export interface LoadedProfile {
  profile: ClusterProfile;
  /** AKS input only: the fields podnet did not use, per file (generic paths). */
  ignored: { source: string; fields: string[] }[];
  /** The field of the user's file a profile path came from (itself for podnet's format), without the file. */
  sourceField: (profileField: string) => string;
}

const same = (f: string) => f;

/** The entry of `origin` for the longest prefix of `field` ("agentPoolProfiles[0].maxPods" -> its source). */
export function originOf(origin: Map<string, string>, field: string): string | undefined {
  for (let f = field; f !== ''; f = f.replace(/(\.[^.[]*|\[\d+\])$/, '')) {
    const hit = origin.get(f);
    if (hit !== undefined) return hit + field.slice(f.length);
    if (!/(\.[^.[]*|\[\d+\])$/.test(f)) break;
  }
  return undefined;
}

export function profileFromDocuments(docs: InputDocument[]): LoadedProfile {
  const podnet = docs.filter((d) => kindOf(d.data) === 'podnet');
  if (podnet.length > 0) {
    if (docs.length > 1) {
      throw new PodnetError(
        'ProfileDocumentsConflict',
        `${podnet[0].source} is a podnet profile, and a podnet profile is the whole input (${docs.length} files given)`,
        {
          field: '--file',
          hint: 'give the podnet profile alone, or AKS input (az aks show -o json) with its VNet and peerings',
        },
      );
    }
    return { profile: profileFromObject(podnet[0].data), ignored: [], sourceField: same };
  }
  const t = translateAks(docs);
  const sourceField = (f: string) => {
    const at = originOf(t.origin, f);
    return at === undefined ? f : at.slice(at.indexOf(': ') + 2);
  };
  try {
    return { profile: profileFromObject(t.data), ignored: t.ignored, sourceField };
  } catch (e) {
    if (!(e instanceof PodnetError) || e.field === undefined) throw e;
    const at = originOf(t.origin, e.field);
    if (at === undefined) throw e;
    const [file, path] = [at.slice(0, at.indexOf(': ')), at.slice(at.indexOf(': ') + 2)];
    throw new PodnetError(e.code, `${file}: ${path}: ${e.message}`, {
      field: path,
      hint: e.hint,
      details: e.details,
      cause: e,
    });
  }
}

/** The one warning that lists every field AKS input carried and podnet did not use. */
export function ignoredMessage(ignored: LoadedProfile['ignored']): string | undefined {
  const total = ignored.reduce((n, x) => n + x.fields.length, 0);
  if (total === 0) return undefined;
  return `ignored ${total} read-only or unrelated field${total === 1 ? '' : 's'}: ${ignored
    .map((x) => `${x.source}: ${x.fields.join(', ')}`)
    .join('; ')}`;
}
