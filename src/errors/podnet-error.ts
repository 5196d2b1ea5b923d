import type { ErrorCode } from './catalogue.js';

/**
 * One error type for everything podnet reports to a person or a script.
 *
 * `code` is a code of the catalogue (`catalogue.ts`: stable, never renamed or reused; `docs/errors.md` lists
 * them), `field` names the input that is wrong (a profile path such as `networkProfile.podCidr`, a flag, a CNI
 * key, a store key), `message` says what is wrong and `hint` what to do about it. Anything thrown that is not a PodnetError is a bug and is reported
 * under the code `Internal`.
 */
export class PodnetError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly hint?: string;
  /** Extra structured facts for `-o json` consumers (e.g. how many blocks exist). */
  readonly details?: Record<string, unknown>;
  /** True when retrying the same request later may succeed (store unreachable, a lost race). */
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    opts: {
      field?: string;
      hint?: string;
      details?: Record<string, unknown>;
      retryable?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PodnetError';
    this.code = code;
    this.field = opts.field;
    this.hint = opts.hint;
    this.details = opts.details;
    this.retryable = opts.retryable ?? false;
  }

  toJSON(): {
    code: ErrorCode;
    field?: string;
    message: string;
    hint?: string;
    details?: Record<string, unknown>;
  } {
    return {
      code: this.code,
      ...(this.field === undefined ? {} : { field: this.field }),
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** Wraps anything thrown into a PodnetError; foreign exceptions become `Internal` (a bug to report). */
export function asPodnetError(err: unknown): PodnetError {
  if (err instanceof PodnetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PodnetError('Internal', `internal error: ${message}`, {
    hint: 'this is a bug in podnet; please report it with the command you ran',
    cause: err,
  });
}
