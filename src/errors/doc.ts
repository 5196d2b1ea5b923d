/**
 * `docs/errors.md`, rendered from the catalogue (pure). `scripts/gen-errors-doc.mjs` writes it; a unit test
 * fails when the file is not what this renders, so the page cannot drift from the codes.
 */
import { AREAS, type Area, CATALOGUE, type CatalogueEntry, EXIT, type ErrorCode } from './catalogue.js';

const INTRO = `# Error codes

<!-- Generated from src/errors/catalogue.ts by \`node scripts/gen-errors-doc.mjs\` (after \`npm run build\`); do not edit. -->

Every code podnet reports: the errors its commands, agent and CNI plugin raise, and the findings of
\`podnet plan\` and \`podnet ipam check\`. A code is stable: it is never renamed and never reused for another
meaning, so scripts may match on it.

- **Text** (the default): \`error CODE (field): message\` and \`  hint: what to do\` on stderr; no stack traces.
- **\`-o json\`**: \`{"error": {"code", "field", "message", "hint", "details"}}\` on stdout.
- **Exit codes**: 0 ok; 1 problems found (invalid plan, failed check) or the command failed; 2 unusable input;
  3 store or agent unreachable (retrying later may succeed). The *Exit* column gives the code a command ends
  with when it meets the error. Plan warnings (exit 0) never fail a command by themselves.
- **Through the CNI plugin** (\`podnet-cni\`): a podnet error is CNI error code 11 ("try again later") when it
  is retryable (the codes with exit 3), and code 100 otherwise, with \`msg\` starting with the podnet code and
  \`details\` holding the hint. The CNI spec's own codes (1, 4, 5, 6, 7, 11, 50, 999) are in
  [cni.md](cni.md#error-codes).
- **Anything else** that escapes is a bug, reported as \`Internal\`.
- **Adding a code**: one line in \`src/errors/catalogue.ts\` (\`PodnetError\` takes no other code), then
  \`npm run build && node scripts/gen-errors-doc.mjs\`; \`src/errors/catalogue.test.ts\` fails until both are done.

`;

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function row(code: ErrorCode, e: CatalogueEntry): string {
  const field = e.field === undefined ? '' : `\`${e.field}\``;
  return `| <a id="${code}"></a>\`${code}\` | ${EXIT[e.exit]} | ${cell(field)} | ${cell(e.cause)} | ${cell(e.fix)} |`;
}

/** The whole page: one table per area, codes in catalogue order. */
export function renderErrorsDoc(): string {
  const entries = Object.entries(CATALOGUE) as [ErrorCode, CatalogueEntry][];
  const areas = Object.keys(AREAS) as Area[];
  const contents = areas.map((a) => `- [${AREAS[a].title}](#${githubAnchor(AREAS[a].title)})`).join('\n');
  const sections = areas.map((a) => {
    const { title, page } = AREAS[a];
    const more = page === null ? '' : `More in [${page.split('#')[0]}](${page}).\n\n`;
    const rows = entries.filter(([, e]) => e.area === a).map(([c, e]) => row(c, e));
    return `## ${title}\n\n${more}| Code | Exit | Field | Cause | Fix |\n|---|---|---|---|---|\n${rows.join('\n')}\n`;
  });
  return `${INTRO}${contents}\n\n${sections.join('\n')}`;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
export function githubAnchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}
