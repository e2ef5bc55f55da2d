// The public updates: which are refused, and the message the caller reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateUpdate, type StreamUpdate } from '../../../workflows/lifecycle.ts';
import { state } from './cluster.ts';

const updates: StreamUpdate[] = ['suspend', 'resume', 'backfill', 'restart'];
const failed = state({
  phase: 'Failed',
  condition: { reason: 'StreamFailed', message: 'the streaming Job failed' },
  restartCount: 5,
  pendingRestart: { jobUid: 'job-1', cause: 'failed', message: 'the streaming Job failed' },
});
const invalidSpec = state({
  phase: 'Failed',
  condition: { reason: 'InvalidSpec', message: 'the spec is invalid: spec.jobTemplateRef is required' },
});
const detached = state({
  ended: 'detached',
  condition: { reason: 'StreamDetached', message: 'StreamClass mock-stream no longer exists' },
});

const refusals: { name: string; state: typeof failed; update: StreamUpdate; message: RegExp }[] = [
  ...updates.flatMap((update) => [
    {
      name: `${update} of a deleted stream`,
      state: state({ ended: 'deleted' }),
      update,
      message: new RegExp(`^cannot ${update}: the stream was deleted; its workflow is finishing$`),
    },
    {
      name: `${update} of a detached stream`,
      state: detached,
      update,
      message: new RegExp(`^cannot ${update}: the stream is detached \\(StreamClass mock-stream no longer exists\\)`),
    },
  ]),
  {
    name: 'restart of a suspended stream',
    state: state({ phase: 'Suspended' }),
    update: 'restart',
    message: /^cannot restart: the stream is suspended; resume it to start its Job$/,
  },
  {
    name: 'restart of a CronJob stream',
    state: state({ phase: 'Scheduled' }),
    update: 'restart',
    message: /^cannot restart: the stream runs on a CronJob backend; there is no Job to restart$/,
  },
  {
    name: 'restart of a stream with an invalid spec',
    state: invalidSpec,
    update: 'restart',
    message: /^cannot restart: the stream spec is invalid \(.*spec\.jobTemplateRef is required\); fix the spec/,
  },
  {
    name: 'restart of a stream without a backend',
    state: state({ phase: '', condition: { reason: 'NoValidBackend', message: 'the spec sets no backend' } }),
    update: 'restart',
    message: /^cannot restart: the stream has no running Job to restart \(the spec sets no backend\)$/,
  },
  {
    name: 'restart of a stream waiting for its initial backfill',
    state: state({ phase: 'Pending', condition: { reason: 'StreamPending', message: 'new stream' } }),
    update: 'restart',
    message: /^cannot restart: the stream is pending \(new stream\); there is no Job to restart yet$/,
  },
];

for (const refusal of refusals) {
  test(`refused: ${refusal.name}`, () => {
    assert.match(validateUpdate(refusal.state, refusal.update) ?? '(accepted)', refusal.message);
  });
}

const acceptances: { name: string; state: typeof failed; update: StreamUpdate }[] = [
  { name: 'restart of a running stream', state: state(), update: 'restart' },
  { name: 'restart of a backfilling stream', state: state({ phase: 'Backfilling' }), update: 'restart' },
  { name: 'restart of a stream whose restarts are used up', state: failed, update: 'restart' },
  {
    name: 'restart of a stream waiting out a completion backoff',
    state: state({
      phase: 'Pending',
      pendingRestart: { jobUid: 'job-1', cause: 'completed', dueAt: 1, message: 'completed early' },
    }),
    update: 'restart',
  },
  ...(['suspend', 'resume', 'backfill'] as const).flatMap((update) => [
    { name: `${update} of a failed stream`, state: failed, update },
    { name: `${update} of a stream with an invalid spec`, state: invalidSpec, update },
    { name: `${update} of a suspended stream`, state: state({ phase: 'Suspended' }), update },
  ]),
];

for (const acceptance of acceptances) {
  test(`accepted: ${acceptance.name}`, () => {
    assert.equal(validateUpdate(acceptance.state, acceptance.update), undefined);
  });
}
