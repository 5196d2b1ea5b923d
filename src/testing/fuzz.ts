/**
 * Building blocks of podnet's parser fuzz tests: a seeded generator, so a failure names the seed and the
 * iteration that reproduce it, and the character edits (insert, delete, replace) that turn a valid input into
 * a near miss, which is where parsers go wrong.
 */

/** mulberry32: a small, fast 32-bit generator; the same seed gives the same sequence on every machine. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A whole number in [0, n). */
export const below = (rnd: () => number, n: number) => Math.floor(rnd() * n);

/** `text` with 1 to `maxEdits` characters inserted, deleted or replaced, each new one drawn from `alphabet`. */
export function mutateChars(text: string, alphabet: string, rnd: () => number, maxEdits = 4): string {
  let s = text;
  const edits = 1 + below(rnd, maxEdits);
  for (let k = 0; k < edits; k++) {
    const at = below(rnd, s.length + 1);
    const ch = alphabet[below(rnd, alphabet.length)];
    const op = below(rnd, 3);
    s =
      op === 0
        ? s.slice(0, at) + ch + s.slice(at)
        : op === 1
          ? s.slice(0, at) + s.slice(at + 1)
          : s.slice(0, at) + ch + s.slice(at + 1);
  }
  return s;
}
