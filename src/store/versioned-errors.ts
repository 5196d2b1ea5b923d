/** The errors every VersionedStore backend reports the same way, so callers match one code per situation. */
import { PodnetError } from '../errors/index.js';

export function leaseNotFound(lease: string): PodnetError {
  return new PodnetError('StoreLeaseNotFound', `store lease ${lease} expired or was revoked`, {
    field: 'lease',
    hint: 'grant a new lease and put the keys on it again',
  });
}

export function storeClosed(url: string): PodnetError {
  return new PodnetError('StoreClosed', `the store ${url} was closed`, {
    hint: 'this is a bug in the caller: it used a store after closing it',
  });
}
