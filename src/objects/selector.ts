/**
 * Label selectors in kubectl's `-l` syntax, parsed and matched as k8s.io/apimachinery/pkg/labels (selector.go)
 * does: comma-separated requirements, all of which must hold; `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
 * `k notin (a,b)`, `k`, `!k`, and `k>N`/`k<N` on integer values. `!=` and `notin` also match objects without
 * the key, as upstream. Keys and values are checked with the label rules.
 */
import { PodnetError } from '../errors/index.js';
import { isQualifiedName, isValidLabelValue } from './validation.js';

export type Operator = 'in' | 'notin' | '=' | '!=' | 'exists' | '!' | 'gt' | 'lt';

export interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

export type Selector = Requirement[];

const SPECIAL = new Set(['!', '=', ',', '(', ')', '<', '>', ' ', '\t', '\n', '\r']);

type Token = { kind: 'id' | 'op' | '(' | ')' | ',' | 'end'; text: string; at: number };

function lex(text: string, fail: (at: number, why: string) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
    else if (c === '(' || c === ')' || c === ',') tokens.push({ kind: c, text: c, at: i++ });
    else if (c === '=' || c === '!' || c === '<' || c === '>') {
      const two = text.slice(i, i + 2);
      const op = two === '==' || two === '!=' ? two : c;
      tokens.push({ kind: 'op', text: op, at: i });
      i += op.length;
    } else {
      const start = i;
      while (i < text.length && !SPECIAL.has(text[i])) i++;
      tokens.push({ kind: 'id', text: text.slice(start, i), at: start });
    }
  }
  if (tokens.some((t) => t.kind === 'id' && t.text.length > 4096)) fail(0, 'a key or value is far too long');
  tokens.push({ kind: 'end', text: '', at: text.length });
  return tokens;
}

/** Parses a selector; an empty one selects everything. `InvalidLabelSelector` names the position and the rule. */
export function parseSelector(text: string): Selector {
  const fail = (at: number, why: string): never => {
    throw new PodnetError(
      'InvalidLabelSelector',
      `label selector "${text.slice(0, 200)}" is invalid at position ${at}: ${why}`,
      {
        field: '--selector',
        hint: 'write requirements like app=web,tier!=db,env in (prod,staging),!canary',
      },
    );
  };
  const tokens = lex(text, fail);
  let p = 0;
  const peek = () => tokens[p];
  const next = () => tokens[p++];
  const checkKey = (t: Token) => {
    const errs = isQualifiedName(t.text);
    if (errs.length) fail(t.at, `key "${t.text}": ${errs[0]}`);
  };
  const checkValue = (t: Token) => {
    const errs = isValidLabelValue(t.text);
    if (errs.length) fail(t.at, `value "${t.text}": ${errs[0]}`);
  };
  const value = (): string => {
    const t = peek();
    if (t.kind !== 'id') return '';
    next();
    checkValue(t);
    return t.text;
  };
  const selector: Selector = [];
  if (peek().kind === 'end') return selector;
  for (;;) {
    let t = next();
    let req: Requirement;
    if (t.kind === 'op' && t.text === '!') {
      t = next();
      if (t.kind !== 'id') fail(t.at, 'expected a key after "!"');
      checkKey(t);
      req = { key: t.text, operator: '!', values: [] };
    } else {
      if (t.kind !== 'id') fail(t.at, `expected a key, found "${t.text || 'the end'}"`);
      checkKey(t);
      const key = t.text;
      const op = peek();
      if (op.kind === ',' || op.kind === 'end') req = { key, operator: 'exists', values: [] };
      else if (op.kind === 'id' && (op.text === 'in' || op.text === 'notin')) {
        next();
        const open = next();
        if (open.kind !== '(') fail(open.at, `expected "(" after ${op.text}`);
        const values: string[] = [];
        for (;;) {
          values.push(value());
          const sep = next();
          if (sep.kind === ')') break;
          if (sep.kind !== ',') fail(sep.at, 'expected "," or ")" in the value list');
        }
        if (values.length === 1 && values[0] === '' && tokens[p - 2].kind === '(')
          fail(op.at, `for '${op.text}', values set can't be empty`);
        req = { key, operator: op.text, values: [...new Set(values)].sort() };
      } else if (op.kind === 'op' && ['=', '==', '!=', '<', '>'].includes(op.text)) {
        next();
        const v = value();
        if (op.text === '<' || op.text === '>') {
          if (!/^-?\d+$/.test(v)) fail(op.at, `for '${op.text}', the value must be an integer`);
          req = { key, operator: op.text === '<' ? 'lt' : 'gt', values: [v] };
        } else req = { key, operator: op.text === '!=' ? '!=' : '=', values: [v] };
      } else
        fail(op.at, `expected an operator (=, ==, !=, in, notin, <, >), "," or the end, found "${op.text}"`);
    }
    selector.push(req!);
    const sep = next();
    if (sep.kind === 'end') return selector;
    if (sep.kind !== ',') fail(sep.at, `expected "," between requirements, found "${sep.text}"`);
  }
}

export function matches(selector: Selector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = has ? l[r.key] : undefined;
    switch (r.operator) {
      case 'exists':
        return has;
      case '!':
        return !has;
      case '=':
      case 'in':
        return has && r.values.includes(v as string);
      case '!=':
      case 'notin':
        return !has || !r.values.includes(v as string);
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(v as string)) return false;
        const [a, b] = [Number(v), Number(r.values[0])];
        return r.operator === 'gt' ? a > b : a < b;
      }
    }
  });
}
