import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { sdkLogger } from '../../../worker/sdk-logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'trace' }, sink), lines };
}

test("the SDK's log lines are pino JSON at their own level, marked as the SDK's", () => {
  const { log, lines } = capture();
  const sdk = sdkLogger(log);
  sdk.info('Worker state changed', { state: 'RUNNING' });
  sdk.log('WARN', 'Activity failed', { activityType: 'observeStream', attempt: 2 });
  assert.deepEqual(
    lines.map(({ level, msg, component, state, activityType, attempt }) => ({
      level,
      msg,
      component,
      state,
      activityType,
      attempt,
    })),
    [
      {
        level: 30,
        msg: 'Worker state changed',
        component: 'temporal-sdk',
        state: 'RUNNING',
        activityType: undefined,
        attempt: undefined,
      },
      {
        level: 40,
        msg: 'Activity failed',
        component: 'temporal-sdk',
        state: undefined,
        activityType: 'observeStream',
        attempt: 2,
      },
    ],
  );
});

test('an error in the metadata is serialised with its message and stack', () => {
  const { log, lines } = capture();
  sdkLogger(log).error('Workflow task failed', { error: new Error('boom'), workflowId: 'stream/a/b/c' });
  const [line] = lines;
  assert.equal(line?.level, 50);
  assert.equal(line?.workflowId, 'stream/a/b/c');
  const err = line?.err as { message?: string; stack?: string } | undefined;
  assert.equal(err?.message, 'boom');
  assert.match(err?.stack ?? '', /Error: boom/);
  assert.equal(line?.error, undefined);
});
