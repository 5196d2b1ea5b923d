/**
 * Whether the agent's last call to the cluster store worked, for `/healthz`. Lease renewals and the resync's
 * probe both report here, so whichever ran last decides: a store that comes back clears the problem within a
 * resync, not at the next renewal hours later.
 */
import { errFields } from './log.js';

export class StoreHealth {
  private error: string | null = null;

  get problem(): string | null {
    return this.error;
  }

  ok(): void {
    this.error = null;
  }

  failed(err: unknown): void {
    this.error = errFields(err).err;
  }
}
