// Leader election on a Lease: of two replicas only the leader forwards, the other takes over when it goes (released
// on a clean stop, expired after a kill -9), and a replica that loses the lease stops forwarding at once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, test, type TestContext } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { OperatorProcess } from '../../stack/operator-process.ts';
import { waitFor } from '../../stack/wait.ts';
import type { Watcher } from '../../watcher/watcher.ts';
import { installTestPlugin, testNamespace } from './kube.ts';
import { kubeConfig, stackEnv } from './stack-env.ts';
import {
  holdLease,
  leaseDeadlines,
  MOCK_STREAMS,
  readLease,
  signalsOf,
  startTestWatcher,
  Streams,
  temporalClient,
  TEST_LEASE,
  TEST_RESYNC_DELAY_MS,
  uniqueTaskQueue,
  waitForSignal,
} from './watcher-harness.ts';

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

let kc: KubeConfig;

before(() => {
  kc = kubeConfig();
});

async function setup(t: TestContext, name: string) {
  const namespace = await testNamespace(t, kc, `watch-${name}`);
  await installTestPlugin(kc, namespace);
  const taskQueue = uniqueTaskQueue(name);
  const client = await temporalClient(t);
  const replica = (replicaName: string) =>
    startTestWatcher(t, { namespace, taskQueue, name: `${name}-${replicaName}`, kubeConfig: kc });
  return { namespace, taskQueue, client, replica, streams: new Streams(kc, namespace) };
}

const sent = (watcher: Watcher) => watcher.metrics.value(watcher.metrics.signalsSent);
const seen = (watcher: Watcher) => watcher.metrics.value(watcher.metrics.events, { kind: 'MockStream', type: 'added' });
const deadlines = leaseDeadlines();

/** Its first resync is done: the signals it sends after this are the test's doing. */
const resynced = (watcher: Watcher) =>
  waitFor('the first resync', async () => (await watcher.metrics.value(watcher.metrics.resyncs)) >= 1);

/**
 * The signals a workflow received before the first resync of a replica that has just become leader. A replica sends
 * one workflow's signals one after another in the order it queued them, so whatever that replica queued for the
 * workflow while it did not lead (and should have dropped) shows up here, before its resync: the barrier that makes
 * "it sent nothing" checkable.
 */
async function signalsBeforeLeaderResync(client: Client, workflowId: string) {
  const resync = await waitForSignal(client, workflowId, 'resync', { reason: /this replica became leader/ });
  return (await signalsOf(client, workflowId)).filter((signal) => signal.eventId < resync.eventId);
}

test('of two replicas only the leader forwards; the other takes over within the lease duration when it stops', async (t) => {
  const { namespace, client, replica, streams } = await setup(t, 'replicas');
  const [a, b] = await Promise.all([replica('a'), replica('b')]);
  await Promise.all([a.ready(), b.ready()]);
  const leader = await waitFor('exactly one leader', () => {
    const leaders = [a, b].filter((watcher) => watcher.isLeader());
    return leaders.length === 1 && leaders[0];
  });
  const follower = leader === a ? b : a;
  await resynced(leader);

  await streams.create(MOCK_STREAMS, 'orders');
  const orders = streamWorkflowId({ streamClass: MOCK_STREAMS.streamClass, namespace, name: 'orders' });
  await waitForSignal(client, orders, 'streamObserved');
  await waitFor('the follower to see the stream too (warm cache)', async () => (await seen(follower)) >= 1);
  await waitFor('the leader to count what it sent', async () => (await sent(leader)) >= 1);
  assert.equal(await sent(follower), 0, 'the follower sent nothing');

  const lease = await readLease(kc, namespace);
  assert.equal(lease.spec?.holderIdentity, leader.identity);
  assert.equal(lease.spec?.leaseDurationSeconds, 3);
  assert.match(String(lease.spec?.renewTime), MICRO_TIME);

  await leader.stop();
  await waitFor('the follower to lead', () => follower.isLeader(), { timeoutMs: deadlines.takeReleasedMs });
  // The follower saw the stream created while it followed; had it forwarded that, its signal would come first here.
  const beforeTakeOver = await signalsBeforeLeaderResync(client, orders);
  const told = beforeTakeOver.filter((signal) => signal.name === 'streamObserved');
  assert.equal(told.length, 1, `only the leader told the workflow of the new stream: ${JSON.stringify(told)}`);
  await streams.create(MOCK_STREAMS, 'payments');
  const payments = streamWorkflowId({ streamClass: MOCK_STREAMS.streamClass, namespace, name: 'payments' });
  await waitForSignal(client, payments, 'streamObserved');
  await waitFor('the new leader to count what it sent', async () => (await sent(follower)) >= 1);
});

test('a lease whose holder stopped renewing is taken over once it expires', async (t) => {
  const { namespace, replica } = await setup(t, 'expiry');
  const held = await holdLease(kc, namespace, 'crashed-replica_0000', 2);
  const watcher = await replica('a');
  await waitFor('the watcher to take the expired lease', () => watcher.isLeader(), {
    timeoutMs: deadlines.takeExpiredMs(held.leaseDurationSeconds * 1_000),
  });
  const lease = await readLease(kc, namespace);
  assert.equal(lease.spec?.holderIdentity, watcher.identity);
  assert.equal(lease.spec?.leaseTransitions, 1);
  // Taken no earlier than the lease duration after the last renewal it saw.
  const waitedMs = Date.parse(String(lease.spec?.acquireTime)) - Date.parse(held.renewTime);
  assert.ok(waitedMs >= 2_000, `taken over after ${waitedMs} ms`);
});

test('a replica that loses its lease stops forwarding at once', async (t) => {
  const { namespace, client, replica, streams } = await setup(t, 'usurped');
  const watcher = await replica('a');
  await watcher.ready();
  await waitFor('the watcher to lead', () => watcher.isLeader());
  await resynced(watcher);

  await holdLease(kc, namespace, 'other-replica_ffff', 30);
  await waitFor('the watcher to step down', () => !watcher.isLeader(), { timeoutMs: deadlines.stepDownMs });
  const sentBefore = await sent(watcher);
  await streams.create(MOCK_STREAMS, 'orders');
  await waitFor('the stream event to be seen', async () => (await seen(watcher)) >= 1);
  assert.equal(await sent(watcher), sentBefore);

  // The other holder goes quiet: the watcher leads again, and its resync is the first thing the stream's workflow
  // hears; a notice of the creation queued while it did not lead would have come before.
  const handedBack = await holdLease(kc, namespace, 'other-replica_ffff', 1);
  await waitFor('the watcher to lead again', () => watcher.isLeader(), {
    timeoutMs: deadlines.takeExpiredMs(handedBack.leaseDurationSeconds * 1_000),
  });
  const orders = streamWorkflowId({ streamClass: MOCK_STREAMS.streamClass, namespace, name: 'orders' });
  assert.deepEqual(await signalsBeforeLeaderResync(client, orders), [], 'nothing sent while another replica led');
});

const { durationMs: LEASE_MS, renewMs: RENEW_MS } = TEST_LEASE;

/** A watcher started as production starts it (`arcane watcher`), so that it can be killed with SIGKILL. */
function watcherProcess(namespace: string, taskQueue: string, identity: string): OperatorProcess {
  const env = stackEnv();
  const logDir = join(env.logDir, `${identity}-${randomBytes(3).toString('hex')}`);
  mkdirSync(logDir, { recursive: true });
  const settings = {
    ARCANE_KUBECONFIG: env.kubeconfigPath,
    ARCANE_TEMPORAL_ADDRESS: env.temporalAddress,
    ARCANE_TEMPORAL_NAMESPACE: env.temporalNamespace,
    ARCANE_TASK_QUEUE: taskQueue,
    ARCANE_WATCH_NAMESPACE: namespace,
    ARCANE_LEADER_ELECTION_NAMESPACE: namespace,
    ARCANE_LEADER_ELECTION_IDENTITY: identity,
    ARCANE_LEADER_ELECTION_LEASE_DURATION: `${LEASE_MS}ms`,
    ARCANE_LEADER_ELECTION_RENEW_PERIOD: `${RENEW_MS}ms`,
    ARCANE_RESYNC_DELAY: `${TEST_RESYNC_DELAY_MS}ms`,
    ARCANE_LOG_LEVEL: 'debug',
  };
  return new OperatorProcess('watcher', settings, logDir);
}

const leads = async (watcher: OperatorProcess) => /^arcane_watcher_leader 1$/m.test(await watcher.metrics());

test('when the leader is killed, the other replica takes over once the lease expires and forwards what it missed', async (t) => {
  const { namespace, taskQueue, client, streams } = await setup(t, 'killed');
  const replicas = {
    a: watcherProcess(namespace, taskQueue, 'replica-a'),
    b: watcherProcess(namespace, taskQueue, 'replica-b'),
  };
  t.after(() => Promise.all([replicas.a.kill(), replicas.b.kill()]));
  await Promise.all([replicas.a.start(), replicas.b.start()]);
  const holder = await waitFor('a leader', async () => (await readLease(kc, namespace)).spec?.holderIdentity);
  const [leader, follower] = holder.startsWith('replica-a_') ? [replicas.a, replicas.b] : [replicas.b, replicas.a];
  await waitFor('the leader to say so', () => leads(leader));
  assert.equal(await leads(follower), false);
  await streams.create(MOCK_STREAMS, 'orders');
  await waitForSignal(
    client,
    streamWorkflowId({ streamClass: MOCK_STREAMS.streamClass, namespace, name: 'orders' }),
    'streamObserved',
  );

  await leader.kill();
  const killedAt = Date.now();
  const abandoned = await readLease(kc, namespace);
  assert.equal(abandoned.spec?.holderIdentity, holder, 'a killed leader does not release its lease');
  // Created while nobody leads: the new leader's resync starts its workflow.
  await streams.create(MOCK_STREAMS, 'payments');
  const payments = streamWorkflowId({ streamClass: MOCK_STREAMS.streamClass, namespace, name: 'payments' });

  // Taken once the killed leader's lease expires (see leaseDeadlines), then resynced after the resync delay.
  const deadlineMs = leaseDeadlines({ renewMs: RENEW_MS }).takeExpiredMs(LEASE_MS) + TEST_RESYNC_DELAY_MS;
  await waitForSignal(client, payments, 'resync', { timeoutMs: killedAt + deadlineMs - Date.now() });
  assert.ok(await leads(follower));
  const taken = await readLease(kc, namespace);
  assert.notEqual(taken.spec?.holderIdentity, holder);
  assert.match(String(taken.spec?.holderIdentity), follower === replicas.a ? /^replica-a_/ : /^replica-b_/);
  assert.equal(taken.spec?.leaseTransitions, (abandoned.spec?.leaseTransitions ?? 0) + 1);
  // Taken over through expiry: no earlier than the lease duration after the killed leader's last renewal.
  const waitedMs = Date.parse(String(taken.spec?.acquireTime)) - Date.parse(String(abandoned.spec?.renewTime));
  assert.ok(waitedMs >= LEASE_MS, `taken over ${waitedMs} ms after the last renewal`);
});
