/**
 * Text people type (key names) and text clients send (user agents) ends up on pages and in the
 * CLI's terminal output. Characters that are not text there are removed when it is stored, and
 * escaped when it is printed:
 *
 * - control characters, C0, DEL and C1 (U+0080–U+009F: U+009B is a terminal's CSI, which starts
 *   an escape sequence);
 * - bidirectional overrides, embeddings, isolates and marks (U+202A–U+202E, U+2066–U+2069,
 *   U+200E, U+200F, U+061C), which reorder what is displayed ("Trojan Source");
 * - line and paragraph separators (U+2028, U+2029).
 *
 * Joiners (U+200D in emoji sequences) and other letters of any script stay.
 */

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** `input` without the characters above, trimmed. */
export function cleanText(input: string): string {
  return input.replace(UNSAFE, '').trim();
}

/** For a terminal: each character above except the tab (the CLI's column separator) written as a visible `\\uXXXX` escape, never sent raw. */
export function forTerminal(text: string): string {
  return text.replace(UNSAFE, (c) => (c === '\t' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
