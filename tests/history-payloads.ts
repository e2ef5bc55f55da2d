// Recorded histories keep payloads base64-encoded: this decodes them so tests can search what they really carry.

/** The history JSON followed by every payload's decoded data. */
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
