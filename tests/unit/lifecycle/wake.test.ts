// One wake: observe, decide and act until the decision asks for nothing more, over the simulated cluster. The same loop
// runs in the workflow (revisions 2 and 3) and inside the `settle` activity (revision 4).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  maxRoundsPerWake,
  RoundPending,
  runWake,
  type Action,
  type ObjectVersions,
  type WakeHolder,
  type WakeIo,
} from '../../../workflows/lifecycle.ts';
import { Cluster, config, INITIAL, MINUTE, observation } from './cluster.ts';

/** The simulated cluster as a wake's reads and writes, with what each call was asked. */
function clusterIo(cluster: Cluster, refuse?: (action: Action) => boolean) {
  const calls: { observed: ObjectVersions[]; acted: string[][] } = { observed: [], acted: [] };
  const io: WakeIo = {
    observe: (required) => {
      calls.observed.push(required);
      return Promise.resolve(structuredClone(cluster.observation));
    },
    act: (actions) => {
      calls.acted.push(actions.map((action) => action.type));
      for (const [index, action] of actions.entries()) {
        if (refuse?.(action)) {
          const rejected = { index, reason: 'InvalidTemplate' as const, message: 'the template is broken' };
          return Promise.resolve({ rejected, observation: structuredClone(cluster.observation) });
        }
        cluster.apply(action);
      }
      return Promise.resolve({ observation: structuredClone(cluster.observation) });
    },
    now: () => cluster.now,
  };
  return { io, calls };
}

test('a wake runs rounds until the decision asks for nothing more, and leaves its state and observation', async () => {
  const cluster = new Cluster(observation());
  const { io, calls } = clusterIo(cluster);
  const holder: WakeHolder = { state: cluster.state, seenVersions: {} };
  const end = await runWake(holder, { stream: '7' }, config, io);
  assert.deepEqual(end, { wakeAt: undefined, done: undefined });
  assert.equal(holder.state.phase, 'Backfilling');
  assert.deepEqual(holder.observation, cluster.observation);
  assert.equal(cluster.job()?.backfillId, INITIAL);
  // One observation, as new as required; then one observation after each round's actions.
  assert.deepEqual(calls.observed, [{ stream: '7' }]);
  assert.ok(calls.acted.length >= 1 && calls.acted.flat().includes('applyBackfillJob'), JSON.stringify(calls.acted));

  // Its Job completes: the next wake completes the backfill and starts the stream.
  cluster.finishJob('complete', 5 * MINUTE);
  await runWake(holder, {}, config, io);
  assert.equal(holder.state.phase, 'Running');
  assert.equal(cluster.job()?.backfilling, false);
});

test('a change made to the held state between rounds reaches the next decision', async () => {
  const cluster = new Cluster(observation());
  const { io } = clusterIo(cluster);
  const holder: WakeHolder = { state: cluster.state, seenVersions: {} };
  let rounds = 0;
  const act = io.act.bind(io);
  io.act = async (actions, seen) => {
    const outcome = await act(actions, seen);
    // As the workflow's restart handler does while a round's activity runs.
    if (rounds++ === 0) holder.state = { ...holder.state, restartCount: 3 };
    return outcome;
  };
  await runWake(holder, {}, config, io);
  assert.ok(rounds >= 1);
  assert.equal(holder.state.restartCount, 3);
});

test('a refused action drops its round: Failed is decided from the state before it', async () => {
  const cluster = new Cluster(observation());
  const { io, calls } = clusterIo(cluster, (action) => action.type === 'applyBackfillJob');
  const holder: WakeHolder = { state: cluster.state, seenVersions: {} };
  const end = await runWake(holder, {}, config, io);
  assert.deepEqual(end, {});
  assert.equal(cluster.job(), undefined);
  assert.notEqual(holder.state.phase, 'Backfilling');
  // The answer to the refusal ran as one more call right after the refused round, and the wake ended there.
  const refusedRound = calls.acted.findIndex((types) => types.includes('applyBackfillJob'));
  assert.equal(refusedRound, calls.acted.length - 2, JSON.stringify(calls.acted));
  assert.ok(!calls.acted.at(-1)?.includes('applyBackfillJob'), JSON.stringify(calls.acted));
});

test('a decision that never settles is cut off and re-checked later', async () => {
  const cluster = new Cluster(observation());
  const { io, calls } = clusterIo(cluster);
  // Writes that never show: every observation is the first one, so every round decides the same actions again.
  const first = structuredClone(cluster.observation);
  io.act = (actions) => {
    calls.acted.push(actions.map((action) => action.type));
    return Promise.resolve({ observation: structuredClone(first) });
  };
  const holder: WakeHolder = { state: cluster.state, seenVersions: {} };
  const end = await runWake(holder, {}, config, io);
  assert.deepEqual(end, { wakeAt: cluster.now + config.recheckMs, unsettled: true });
  assert.equal(calls.acted.length, maxRoundsPerWake);
});

test('a round whose actions keep failing for now ends the wake with them pending, and the state that decided them', async () => {
  const cluster = new Cluster(observation());
  const { io, calls } = clusterIo(cluster);
  const act = io.act.bind(io);
  io.act = (actions, seen) =>
    actions.some((action) => action.type === 'applyBackfillJob')
      ? Promise.reject(new RoundPending('the Job is still going away'))
      : act(actions, seen);
  const holder: WakeHolder = { state: cluster.state, seenVersions: {} };
  const before = structuredClone(holder);
  const end = await runWake(holder, {}, config, io);
  const pending = end.pending;
  assert.ok(pending, JSON.stringify(end));
  assert.ok(pending.actions.some((action) => action.type === 'applyBackfillJob'));
  // The state holds the pending round's decision; `before` is what it decided from (a later round's, not the wake's).
  assert.notDeepEqual(holder.state, pending.before);
  assert.notDeepEqual(pending.before, before.state);
  assert.deepEqual(holder.observation, cluster.observation);
  assert.equal(cluster.job(), undefined);
  assert.equal(calls.acted.length, 1);
  // Any other failure is the wake's own.
  io.act = () => Promise.reject(new Error('boom'));
  await assert.rejects(runWake({ state: before.state, seenVersions: {} }, {}, config, io), /boom/);
});
