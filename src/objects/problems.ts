/**
 * What is wrong with an object, in the shape of the API server's field.Error
 * (k8s.io/apimachinery/pkg/util/validation/field/errors.go): the field path, the error type and the detail,
 * rendered as kube-apiserver renders them (`spec.containers[0].name: Required value`), plus a hint. An
 * apply collects every problem of every document before it refuses, so one run names them all.
 */
import { PodnetError } from '../errors/index.js';

export type ProblemType =
  | 'Required'
  | 'Invalid'
  | 'Duplicate'
  | 'NotSupported'
  | 'Forbidden'
  | 'TooLong'
  | 'NotFound'
  | 'FieldUnknown'
  | 'Malformed';

export interface FieldProblem {
  type: ProblemType;
  /** The field path, e.g. `spec.containers[0].ports[1].protocol`; empty for the document as a whole. */
  field: string;
  /** As kube-apiserver says it, including the field path. */
  message: string;
  hint: string;
}

/** Where a problem is: the file and the document's index in it (0-based), and the List item if any. */
export interface DocSource {
  file: string;
  index: number;
  item?: number;
}

export interface Problem extends FieldProblem {
  source: DocSource;
  /** `Pod default/web`, when the document got far enough to name its object. */
  object?: string;
}

export function sourceText(s: DocSource): string {
  return `${s.file}#${s.index}${s.item === undefined ? '' : ` items[${s.item}]`}`;
}

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
const at = (field: string, text: string) => (field ? `${field}: ${text}` : text);

export function required(field: string, hint: string): FieldProblem {
  return { type: 'Required', field, message: at(field, 'Required value'), hint };
}

export function invalid(field: string, value: unknown, detail: string, hint: string): FieldProblem {
  return { type: 'Invalid', field, message: at(field, `Invalid value: ${show(value)}: ${detail}`), hint };
}

export function duplicate(field: string, value: unknown, hint: string): FieldProblem {
  return { type: 'Duplicate', field, message: at(field, `Duplicate value: ${show(value)}`), hint };
}

export function notSupported(field: string, value: unknown, supported: readonly string[]): FieldProblem {
  const list = supported.map((s) => JSON.stringify(s)).join(', ');
  return {
    type: 'NotSupported',
    field,
    message: at(field, `Unsupported value: ${show(value)}: supported values: ${list}`),
    hint: `use one of ${supported.join(', ')}`,
  };
}

export function forbidden(field: string, detail: string, hint: string): FieldProblem {
  return { type: 'Forbidden', field, message: at(field, `Forbidden: ${detail}`), hint };
}

export function tooLong(field: string, maxBytes: number, hint: string): FieldProblem {
  return {
    type: 'TooLong',
    field,
    message: at(field, `Too long: may not be more than ${maxBytes} bytes`),
    hint,
  };
}

export function notFound(field: string, value: unknown, detail: string, hint: string): FieldProblem {
  return {
    type: 'NotFound',
    field,
    message: at(field, `Not found: ${show(value)}${detail ? `: ${detail}` : ''}`),
    hint,
  };
}

/** The messages of one apimachinery check, each as an Invalid problem of `field`. */
export function invalids(field: string, value: string, messages: string[], hint: string): FieldProblem[] {
  return messages.map((m) => invalid(field, value, m, hint));
}

/** Refuses a whole apply: every problem in the message (one per line) and in `details.problems`. */
/**
 * Every problem of a set of documents in one error. `apply` (the default): nothing of the apply landed.
 * `read`: documents a read-only command took as input (`trace`, `nsg check`, `plan --nsg`), a usage error.
 */
export function objectsInvalid(problems: Problem[], use: 'apply' | 'read' = 'apply'): PodnetError {
  const docs = new Set(problems.map((p) => sourceText({ ...p.source, item: undefined })));
  const lines = problems.map(
    (p) => `  ${sourceText(p.source)}${p.object ? ` (${p.object})` : ''}: ${p.message}\n    hint: ${p.hint}`,
  );
  return new PodnetError(
    use === 'apply' ? 'ObjectsInvalid' : 'InputObjectsInvalid',
    `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${docs.size} document${docs.size === 1 ? '' : 's'}${use === 'apply' ? '; nothing was applied' : ''}:\n${lines.join('\n')}`,
    {
      field: problems[0]?.field || '--filename',
      hint:
        use === 'apply'
          ? 'fix every problem listed (file#document: field: rule) and apply again; the store is unchanged'
          : 'fix every problem listed (file#document: field: rule) and run the command again',
      details: { problems },
    },
  );
}
