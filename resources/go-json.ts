// Serialises JSON values byte for byte like Go's encoding/json Marshal of an interface{} decoded from JSON,
// so hashes and env values match what the upstream Go operator produced. Pure: safe in workflow code.

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

// Go escapes '"', '\\', HTML-sensitive characters, JS line terminators and control characters (all below U+0020).
const NEEDS_ESCAPE = /["\\<>&\u2028\u2029]|[^\u0020-\uffff]/g;

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

function escapeChar(char: string): string {
  return SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

// Go strings are UTF-8: a lone surrogate decodes to U+FFFD, which Go then writes as the raw character.
function goString(value: string): string {
  return `"${value.toWellFormed().replace(NEEDS_ESCAPE, escapeChar)}"`;
}

// JavaScript's shortest round-trip formatting uses the same digits and exponent thresholds (1e-6, 1e21) as Go.
function goNumber(value: number): string {
  if (!Number.isFinite(value)) {
    throw new TypeError(`goJson: ${value} has no JSON representation`);
  }
  return Object.is(value, -0) ? '-0' : String(value);
}

// Go sorts map keys by their UTF-8 bytes: code point order, where a surrogate pair sorts after U+E000..U+FFFF.
function utf8Rank(codeUnit: number): number {
  return codeUnit >= 0xd800 && codeUnit <= 0xdfff ? codeUnit + 0x10000 : codeUnit;
}

function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const left = a.charCodeAt(i);
    const right = b.charCodeAt(i);
    if (left !== right) return utf8Rank(left) - utf8Rank(right);
  }
  return a.length - b.length;
}

function goObject(value: Readonly<Record<string, JsonValue | undefined>>): string {
  // Keys that differ only in lone surrogates collapse to one Go map key; as in Go's decoder, the last one wins.
  const entries = new Map<string, JsonValue>();
  for (const [key, item] of Object.entries(value)) {
    if (item !== undefined) entries.set(key.toWellFormed(), item);
  }
  const keys = [...entries.keys()].sort(compareUtf8);
  return `{${keys.map((key) => `${goString(key)}:${goJson(entries.get(key) ?? null)}`).join(',')}}`;
}

/** Go's json.Marshal output for a JSON value: sorted keys, compact, HTML-safe escapes. */
export function goJson(value: JsonValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return goNumber(value);
    case 'string':
      return goString(value);
    default:
      return Array.isArray(value) ? `[${value.map((item) => goJson(item ?? null)).join(',')}]` : goObject(value);
  }
}
