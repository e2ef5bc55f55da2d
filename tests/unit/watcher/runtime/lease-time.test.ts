// Lease times as the API server wants them (metav1.MicroTime): six fractional digits, UTC.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMicroTime, nowMicros } from '../../../../watcher/runtime/lease-time.ts';

test('a lease time has exactly six fractional digits', () => {
  const micros = Date.UTC(2026, 10, 22, 13, 4, 5, 123) * 1000 + 456;
  assert.equal(formatMicroTime(micros), '2026-11-22T13:04:05.123456Z');
});

test('whole seconds and milliseconds are padded to microseconds', () => {
  assert.equal(formatMicroTime(Date.UTC(2026, 0, 1) * 1000), '2026-01-01T00:00:00.000000Z');
  assert.equal(formatMicroTime(Date.UTC(2026, 0, 1, 0, 0, 0, 7) * 1000 + 9), '2026-01-01T00:00:00.007009Z');
});

test('the current time formats as a MicroTime', () => {
  assert.match(formatMicroTime(nowMicros()), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
});
