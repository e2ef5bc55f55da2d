// Lease times are metav1.MicroTime: RFC 3339 in UTC with exactly six fractional digits, as the API server expects.

/** Microseconds since the epoch, now; the sub-millisecond digits come from the monotonic clock. */
export function nowMicros(): number {
  return Date.now() * 1000 + Math.floor((performance.now() % 1) * 1000);
}

/** `2026-11-22T13:04:05.123456Z` */
export function formatMicroTime(epochMicros: number): string {
  const micros = Math.floor(epochMicros);
  const millis = Math.floor(micros / 1000);
  const subMillis = String(micros - millis * 1000).padStart(3, '0');
  return new Date(millis).toISOString().replace(/Z$/, `${subMillis}Z`);
}
