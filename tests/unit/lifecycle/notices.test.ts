// A wake whose notices show nothing the last observation did not already show costs no new look.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alreadyShown } from '../../../workflows/lifecycle.ts';
import { cronJob, job, observation } from './cluster.ts';

test('a notice of the Job exactly as last observed shows nothing new', () => {
  assert.equal(alreadyShown({ job: job() }, observation({ job: job() })), true);
});

test('a notice of a Job that changed, appeared or went shows something new', () => {
  assert.equal(alreadyShown({ job: job({ state: 'complete' }) }, observation({ job: job() })), false);
  assert.equal(alreadyShown({ job: job() }, observation()), false);
  assert.equal(alreadyShown({ job: null }, observation({ job: job() })), false);
  assert.equal(alreadyShown({ job: job({ terminating: true }) }, observation({ job: job() })), false);
});

test('a notice that the Job is gone matches an observation without one', () => {
  assert.equal(alreadyShown({ job: null }, observation()), true);
});

test('CronJob notices are compared with the CronJob, not the Job', () => {
  assert.equal(alreadyShown({ cronJob: cronJob() }, observation({ cronJob: cronJob(), job: job() })), true);
  assert.equal(alreadyShown({ cronJob: null }, observation({ job: job() })), true);
  assert.equal(alreadyShown({ cronJob: null }, observation({ cronJob: cronJob() })), false);
});

test('a notice without a workload, or no observation yet, always calls for a look', () => {
  assert.equal(alreadyShown(undefined, observation()), false);
  assert.equal(alreadyShown({ job: null }, undefined), false);
});
