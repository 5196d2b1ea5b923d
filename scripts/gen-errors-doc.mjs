// Writes docs/errors.md from the error catalogue (src/errors/catalogue.ts). Run after `npm run build`;
// src/errors/catalogue.test.ts fails while the page differs from what this writes.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderErrorsDoc } from '../dist/src/errors/doc.js';

const target = fileURLToPath(new URL('../docs/errors.md', import.meta.url));
writeFileSync(target, renderErrorsDoc());
console.error(`wrote ${target}`);
