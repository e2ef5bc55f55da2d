// Recorded histories keep payloads base64-encoded: this decodes them so tests can search what they really carry, and
// searches them for secret values in every form a value could take there.

/** The history JSON followed by every payload's decoded data (inputs, results, memo, search attributes, failures). */
export function historyText(historyJson: string): string {
  const decoded: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>;
      if (typeof record.data === 'string' && 'metadata' in record) {
        decoded.push(Buffer.from(record.data, 'base64').toString('utf8'));
      }
      Object.values(record).forEach(walk);
    }
  };
  walk(JSON.parse(historyJson));
  return [historyJson, ...decoded].join('\n');
}

/**
 * The ways `value` can show in a text: as it is, and base64-encoded, also inside longer encoded data. Base64 turns
 * every 3 bytes into 4 characters, so the value encodes differently at each of the 3 offsets it may start at; for each
 * the characters that depend on the value alone are kept.
 */
export function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value);
  const forms = [value];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes])
      .toString('base64')
      .replace(/=+$/, '');
    const first = Math.ceil((offset * 8) / 6);
    const last = Math.floor(((offset + bytes.length) * 8) / 6);
    forms.push(encoded.slice(first, last));
  }
  return forms;
}

/** The secrets that show in `text` in any of their forms (none, for a history that keeps them out). */
export function secretsIn(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((secret) => encodedForms(secret).some((form) => text.includes(form)));
}
