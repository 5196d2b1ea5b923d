/**
 * Finds the codes the sources use, for the catalogue's tests. Two views, both from TypeScript's own parser:
 * - `thrownCodes`: the literal codes every `new PodnetError(...)` can take, also through `a ? 'X' : 'Y'`, and
 *   whether it passes `retryable: true`; it needs no types, so it catches a code whatever the types say.
 * - `comparedCodes`: CamelCase literals compared with a `.code` (`e.code === 'X'`), which must be codes too.
 * - `producedCodes`: every string literal the type checker places where a catalogue code is expected (a
 *   PodnetError, a plan finding, an IPAM check finding, a helper taking an `ErrorCode`); a catalogued code
 *   missing from it is produced nowhere.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export interface ThrownCode {
  code: string;
  /** `path:line` of the construction. */
  at: string;
  retryable: boolean;
}

/** Files that are only tests or test support: a code only they use is not produced by podnet. */
export function isTestSource(path: string): boolean {
  return /\.test\.ts$|\/testing\/|test-fixtures\.ts$/.test(path);
}

/** The literal results of a code expression: `'X'`, `c ? 'X' : 'Y'`, `('X')`; conditions are not results. */
function literalResults(e: ts.Expression): string[] {
  if (ts.isParenthesizedExpression(e)) return literalResults(e.expression);
  if (ts.isConditionalExpression(e)) return [...literalResults(e.whenTrue), ...literalResults(e.whenFalse)];
  if (ts.isStringLiteralLike(e)) return [e.text];
  return [];
}

function passesRetryable(args: readonly ts.Expression[]): boolean {
  const opts = args[2];
  return (
    opts !== undefined &&
    ts.isObjectLiteralExpression(opts) &&
    opts.properties.some(
      (p) =>
        ts.isPropertyAssignment(p) &&
        p.name.getText() === 'retryable' &&
        p.initializer.kind === ts.SyntaxKind.TrueKeyword,
    )
  );
}

export function thrownCodes(path: string, text: string): ThrownCode[] {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
  const found: ThrownCode[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isNewExpression(n) && n.expression.getText(sf) === 'PodnetError' && n.arguments?.[0]) {
      const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
      const retryable = passesRetryable(n.arguments);
      for (const code of literalResults(n.arguments[0]))
        found.push({ code, at: `${path}:${line}`, retryable });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

export const CAMEL_CASE = /^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*$/;

/** `x.code === 'Code'` and `'Code' !== x.code`, with `path:line`; errno and SQLite codes are not CamelCase. */
export function comparedCodes(path: string, text: string): { code: string; at: string }[] {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
  const found: { code: string; at: string }[] = [];
  const isCodeAccess = (e: ts.Expression) => ts.isPropertyAccessExpression(e) && e.name.text === 'code';
  const visit = (n: ts.Node): void => {
    if (
      ts.isBinaryExpression(n) &&
      [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken].includes(
        n.operatorToken.kind,
      )
    ) {
      for (const [a, b] of [
        [n.left, n.right],
        [n.right, n.left],
      ]) {
        if (isCodeAccess(a) && ts.isStringLiteralLike(b) && CAMEL_CASE.test(b.text)) {
          const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
          found.push({ code: b.text, at: `${path}:${line}` });
        }
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

/** The project's own source files (tsconfig's `include`), relative to `root`. */
export function projectSources(root: string): string[] {
  return loadProject(root).fileNames.map((f) => relative(root, f));
}

function loadProject(root: string): ts.ParsedCommandLine {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} };
  const parsed = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, host);
  if (!parsed) throw new Error(`cannot read ${join(root, 'tsconfig.json')}`);
  return parsed;
}

/** Codes placed where the checker expects a code of `codes`, by code, with where each is. */
export function producedCodes(root: string, codes: ReadonlySet<string>): Map<string, string[]> {
  const parsed = loadProject(root);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const checker = program.getTypeChecker();
  const isCode = (t: ts.Type) => t.isStringLiteral() && codes.has(t.value);
  const expectsCode = (t: ts.Type | undefined) =>
    t !== undefined && (t.isUnion() ? t.types.every(isCode) : isCode(t));
  const found = new Map<string, string[]>();
  for (const sf of program.getSourceFiles()) {
    const path = relative(root, sf.fileName);
    if (sf.isDeclarationFile || path.startsWith('..') || isTestSource(path)) continue;
    const visit = (n: ts.Node): void => {
      if (ts.isStringLiteralLike(n) && codes.has(n.text) && expectsCode(checker.getContextualType(n))) {
        const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
        found.set(n.text, [...(found.get(n.text) ?? []), `${path}:${line}`]);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return found;
}

export function readSource(root: string, path: string): string {
  return readFileSync(join(root, path), 'utf8');
}
