// A wake whose notices show nothing the last observation did not already show costs no new look.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alreadyShown, requiredAfter } from '../../../workflows/lifecycle.ts';
import { cronJob, job, observation } from './cluster.ts';

test('a notice of the Job exactly as last observed shows nothing new', () => {
  assert.equal(alreadyShown({ observed: { job: job() } }, observation({ job: job() })), true);
});

test('a notice of a Job that changed, appeared or went shows something new', () => {
  assert.equal(alreadyShown({ observed: { job: job({ state: 'complete' }) } }, observation({ job: job() })), false);
  assert.equal(alreadyShown({ observed: { job: job() } }, observation()), false);
  assert.equal(alreadyShown({ observed: { job: null } }, observation({ job: job() })), false);
  assert.equal(alreadyShown({ observed: { job: job({ terminating: true }) } }, observation({ job: job() })), false);
});

test('a notice that the Job is gone matches an observation without one', () => {
  assert.equal(alreadyShown({ observed: { job: null } }, observation()), true);
});

test('CronJob notices are compared with the CronJob, not the Job', () => {
  assert.equal(
    alreadyShown({ observed: { cronJob: cronJob() } }, observation({ cronJob: cronJob(), job: job() })),
    true,
  );
  assert.equal(alreadyShown({ observed: { cronJob: null } }, observation({ job: job() })), true);
  assert.equal(alreadyShown({ observed: { cronJob: null } }, observation({ cronJob: cronJob() })), false);
});

test('a notice without a workload, or no observation yet, always calls for a look', () => {
  assert.equal(alreadyShown(undefined, observation()), false);
  assert.equal(alreadyShown({ observed: { job: null } }, undefined), false);
});

test('a notice about objects at versions the observation was read at, or older, shows nothing new', () => {
  const seen = { ...observation(), versions: { stream: '120', 'backfillRequest/r1': '95' } };
  assert.equal(alreadyShown({ versions: { stream: '120' } }, seen), true);
  assert.equal(alreadyShown({ versions: { stream: '99', 'backfillRequest/r1': '95' } }, seen), true);
});

test('a notice about a newer version, an object not shown, or an unreadable version calls for a look', () => {
  const seen = { ...observation(), versions: { stream: '120' } };
  assert.equal(alreadyShown({ versions: { stream: '121' } }, seen), false);
  assert.equal(alreadyShown({ versions: { stream: '1000' } }, seen), false);
  assert.equal(alreadyShown({ versions: { job: '50' } }, seen), false);
  assert.equal(alreadyShown({ versions: { stream: 'abc' } }, seen), false);
  assert.equal(alreadyShown({ versions: {} }, seen), false);
  assert.equal(alreadyShown({ versions: { stream: '120' } }, observation()), false);
});

test('a workload notice that differs but whose version was already read shows nothing new', () => {
  const seen = { ...observation({ job: job() }), versions: { job: '7' } };
  assert.equal(alreadyShown({ observed: { job: job({ state: 'complete' }) }, versions: { job: '7' } }, seen), true);
  assert.equal(alreadyShown({ observed: { job: job({ state: 'complete' }) }, versions: { job: '8' } }, seen), false);
});

test("a resync's required versions never make a look unnecessary", () => {
  const seen = { ...observation(), versions: { stream: '120' } };
  assert.equal(alreadyShown({ required: { stream: '100' } }, seen), false);
});

test('the next observation must be as new as what was seen, what notices showed and what they required', () => {
  const notices = [
    { versions: { stream: '130', job: '90' } },
    undefined,
    { required: { stream: '140', 'backfillRequest/r1': '7' } },
  ];
  assert.deepEqual(requiredAfter(notices, { stream: '120', job: '95' }), {
    stream: '140',
    job: '95',
    'backfillRequest/r1': '7',
  });
  assert.deepEqual(requiredAfter([], { stream: '120' }), { stream: '120' });
});
