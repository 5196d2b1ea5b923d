/**
 * The fields each kind knows, to refuse what the API server's strict decoding refuses: unknown fields (with
 * the nearest known one as a suggestion, `contianers` -> `containers`) and values of the wrong JSON type.
 * Fields podnet stores but does not read (`resources`, `env`, probes) are `any`: known, kept, not descended.
 */
import { closest } from '../profile/read.js';
import { isPlainObject } from './json.js';
import { type FieldProblem, invalid } from './problems.js';

export type Schema =
  | { type: 'string' | 'integer' | 'boolean' | 'any' }
  | { type: 'object'; fields: Record<string, Schema> }
  | { type: 'list'; items: Schema }
  | { type: 'map'; values: Schema };

export const str: Schema = { type: 'string' };
export const int: Schema = { type: 'integer' };
export const bool: Schema = { type: 'boolean' };
export const any: Schema = { type: 'any' };
export const obj = (fields: Record<string, Schema>): Schema => ({ type: 'object', fields });
export const list = (items: Schema): Schema => ({ type: 'list', items });
export const map = (values: Schema): Schema => ({ type: 'map', values });
/** `any` for each name: fields that are known and kept but whose content podnet does not check. */
export const opaque = (...names: string[]): Record<string, Schema> =>
  Object.fromEntries(names.map((n) => [n, any]));

/** ObjectMeta as metav1 defines it; the server-owned fields are known (and replaced by the server). */
export const objectMeta = obj({
  name: str,
  generateName: str,
  namespace: str,
  uid: str,
  resourceVersion: str,
  generation: int,
  creationTimestamp: str,
  labels: map(str),
  annotations: map(str),
  finalizers: list(str),
  ...opaque(
    'selfLink',
    'deletionTimestamp',
    'deletionGracePeriodSeconds',
    'ownerReferences',
    'managedFields',
  ),
});

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  boolean: 'true or false',
  object: 'an object (a YAML mapping)',
  list: 'a list',
  map: 'a mapping of strings',
};

/** Every unknown field and wrongly typed value under `value`; `null` counts as absent, as in the API. */
export function checkSchema(value: unknown, schema: Schema, path: string): FieldProblem[] {
  if (value === null || schema.type === 'any') return [];
  const wrong = () => [
    invalid(
      path,
      summary(value),
      `must be ${TYPE_WORDS[schema.type]}`,
      `write ${path} as ${TYPE_WORDS[schema.type]}`,
    ),
  ];
  switch (schema.type) {
    case 'string':
      return typeof value === 'string' ? [] : wrong();
    case 'integer':
      return Number.isSafeInteger(value) ? [] : wrong();
    case 'boolean':
      return typeof value === 'boolean' ? [] : wrong();
    case 'list':
      return Array.isArray(value)
        ? value.flatMap((v, i) => checkSchema(v, schema.items, `${path}[${i}]`))
        : wrong();
    case 'map':
      return isPlainObject(value)
        ? Object.entries(value).flatMap(([k, v]) => checkSchema(v, schema.values, `${path}[${k}]`))
        : wrong();
    case 'object': {
      if (!isPlainObject(value)) return wrong();
      const known = Object.keys(schema.fields);
      return Object.entries(value).flatMap(([k, v]) => {
        const child = path ? `${path}.${k}` : k;
        const fieldSchema = Object.hasOwn(schema.fields, k) ? schema.fields[k] : undefined;
        if (fieldSchema) return checkSchema(v, fieldSchema, child);
        const near = closest(k, known);
        return [
          {
            type: 'FieldUnknown' as const,
            field: child,
            message: `${child}: unknown field ${JSON.stringify(k)}${near ? `, did you mean ${JSON.stringify(near)}?` : ''}`,
            hint: near ? `rename it to ${near}` : `remove it; the known fields here are ${known.join(', ')}`,
          },
        ];
      });
    }
  }
}

/** A short text of a wrong value for a message (never a whole subtree). */
function summary(v: unknown): unknown {
  if (typeof v === 'string') return v.length > 40 ? `${v.slice(0, 40)}...` : v;
  if (Array.isArray(v)) return '[list]';
  if (isPlainObject(v)) return '{object}';
  return v;
}
