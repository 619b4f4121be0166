/**
 * Tiny HTML templating: every interpolated value is escaped unless it is
 * wrapped in `Raw`, so forgetting to escape is impossible by construction.
 */

/** Trusted HTML that `html` inserts verbatim. Only build one from markup you wrote or escaped. */
export class Raw {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

/**
 * Values `html` accepts. `false`, `null` and `undefined` render as nothing so
 * `${cond && html`...`}` works; arrays are rendered item by item and joined.
 */
export type Interpolation = Raw | string | number | false | null | undefined | readonly Interpolation[];

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for use in element content or in a quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** Mark a string as trusted HTML. Never pass it anything derived from a request. */
export function raw(s: string): Raw {
  return new Raw(s);
}

function render(value: Interpolation): string {
  if (value === false || value === null || value === undefined) return '';
  if (value instanceof Raw) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** Tagged template producing `Raw` HTML, escaping each interpolation that is not already `Raw`. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Raw {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) {
    out += render(values[i]) + (strings[i + 1] ?? '');
  }
  return new Raw(out);
}

// Stand-ins for a sentence's placeholders: private-use characters no catalogue text contains.
const SLOT = /\uE000(\d+)\uE001/g;

/**
 * A catalogue sentence with markup in its places (`Signed in as <strong>…</strong>.`): the sentence
 * is called with stand-ins, escaped like any text, and each stand-in replaced by its part,
 * rendered as `html` renders an interpolation.
 */
export function rich(sentence: (...parts: string[]) => string, ...parts: Interpolation[]): Raw {
  const text = escapeHtml(sentence(...parts.map((_, i) => `\uE000${i}\uE001`)));
  return new Raw(text.replace(SLOT, (_, i: string) => render(parts[Number(i)])));
}
