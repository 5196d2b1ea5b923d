/**
 * Manifests into documents, as kubectl reads them: multi-document YAML (`---`), JSON (valid YAML), and
 * `List` objects whose items are the documents. Empty documents are skipped, as kubectl skips them. Pure:
 * text in, plain values and problems out; a syntax error is a problem of its document, so one run reports
 * every broken document of every file.
 */
import { parseAllDocuments } from 'yaml';
import { MAX_ALIASES, nestedTooDeeply } from '../profile/load.js';
import { dropNulls, isPlainObject as isObj } from './json.js';
import type { DocSource, Problem } from './problems.js';

export interface Document {
  source: DocSource;
  value: unknown;
}

export interface Decoded {
  documents: Document[];
  problems: Problem[];
}

function malformed(source: DocSource, message: string, hint: string): Problem {
  return { type: 'Malformed', field: '', message, hint, source };
}

/** A `List` (or `PodList`, ...) with an `items` list: kubectl applies its items (so does a bare JSON list). */
function isList(v: Record<string, unknown>): boolean {
  return typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items);
}

export function decodeManifest(text: string, file: string): Decoded {
  const documents: Document[] = [];
  const problems: Problem[] = [];
  const body = text.replace(/^\uFEFF/, '');
  if (nestedTooDeeply(body)) {
    problems.push(
      malformed(
        { file, index: 0 },
        'the file is nested more deeply than any Kubernetes object is',
        'check that the file is a manifest',
      ),
    );
    return { documents, problems };
  }
  let parsed: ReturnType<typeof parseAllDocuments>;
  try {
    parsed = parseAllDocuments(body, { uniqueKeys: true, prettyErrors: true, strict: true });
  } catch (e) {
    problems.push(malformed({ file, index: 0 }, `not YAML or JSON: ${firstLine(e)}`, 'fix the syntax'));
    return { documents, problems };
  }
  // An empty stream is an empty array that carries the stream's own errors (text outside any document).
  if ('empty' in parsed) {
    for (const err of parsed.errors)
      problems.push(
        malformed({ file, index: 0 }, `not valid YAML or JSON: ${firstLine(err)}`, 'fix the syntax'),
      );
  }
  const docs = [...parsed];
  docs.forEach((doc, index) => {
    const source = { file, index };
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      problems.push(
        malformed(
          source,
          `not valid YAML or JSON: ${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${firstLine(err).replace(/ at line \d+, column \d+:?$/, '')}`,
          'fix the syntax at the place named (indentation, quotes, brackets)',
        ),
      );
      return;
    }
    let value: unknown;
    try {
      value = dropNulls(doc.toJS({ maxAliasCount: MAX_ALIASES }));
    } catch (e) {
      problems.push(
        malformed(source, `cannot be read: ${firstLine(e)}`, 'avoid YAML alias chains and absurd nesting'),
      );
      return;
    }
    if (value === undefined || value === null || (isObj(value) && Object.keys(value).length === 0)) return;
    // A top-level JSON list, as `az network nsg list -o json` prints Azure resources: each item a document.
    if (Array.isArray(value)) value = { kind: 'List', items: value };
    if (!isObj(value)) {
      problems.push(
        malformed(
          source,
          'the document is not an object',
          'each document is one object with apiVersion, kind and metadata',
        ),
      );
      return;
    }
    if (isList(value)) {
      (value.items as unknown[]).forEach((item, i) => {
        const itemSource = { file, index, item: i };
        if (isObj(item)) documents.push({ source: itemSource, value: item });
        else
          problems.push(
            malformed(
              itemSource,
              'the list item is not an object',
              'each item is one object with apiVersion, kind and metadata',
            ),
          );
      });
    } else documents.push({ source, value });
  });
  return { documents, problems };
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0];
}
