// Leader election on a Lease: of two replicas only the leader forwards, the other takes over when it goes, and a
// replica that loses the lease stops forwarding at once.
import assert from 'node:assert/strict';
import { before, test, type TestContext } from 'node:test';
import { CoordinationV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { waitFor } from '../../stack/wait.ts';
import { formatMicroTime, nowMicros } from '../../watcher/lease-time.ts';
import type { Watcher } from '../../watcher/watcher.ts';
import { installTestPlugin, testNamespace } from './kube.ts';
import { kubeConfig } from './stack-env.ts';
import {
  MOCK_STREAMS,
  startTestWatcher,
  Streams,
  temporalClient,
  uniqueTaskQueue,
  waitForSignal,
} from './watcher-harness.ts';

const LEASE = 'arcane-watcher';
const LEASES = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };
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
  return { namespace, client, replica, streams: new Streams(kc, namespace) };
}

async function readLease(namespace: string) {
  return kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name: LEASE });
}

/** Writes the lease as another holder would, in the API server's wire format. */
async function holdLease(namespace: string, holderIdentity: string, leaseDurationSeconds: number) {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const now = formatMicroTime(nowMicros());
  const spec = { holderIdentity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 };
  const current = (await custom
    .getNamespacedCustomObject({ ...LEASES, namespace, name: LEASE })
    .catch(() => undefined)) as { metadata: object } | undefined;
  const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEASE, namespace }, spec };
  if (current) {
    await custom.replaceNamespacedCustomObject({
      ...LEASES,
      namespace,
      name: LEASE,
      body: { ...body, metadata: current.metadata },
    });
  } else {
    await custom.createNamespacedCustomObject({ ...LEASES, namespace, body });
  }
  return spec;
}

const sent = (watcher: Watcher) => watcher.metrics.value(watcher.metrics.signalsSent);
const seen = (watcher: Watcher) => watcher.metrics.value(watcher.metrics.events, { kind: 'MockStream', type: 'added' });

test('of two replicas only the leader forwards; the other takes over within the lease duration when it stops', async (t) => {
  const { namespace, client, replica, streams } = await setup(t, 'replicas');
  const [a, b] = await Promise.all([replica('a'), replica('b')]);
  await Promise.all([a.ready(), b.ready()]);
  const leader = await waitFor('exactly one leader', () => {
    const leaders = [a, b].filter((watcher) => watcher.isLeader());
    return leaders.length === 1 && leaders[0];
  });
  const follower = leader === a ? b : a;

  await streams.create(MOCK_STREAMS, 'orders');
  const orders = streamWorkflowId({ streamClass: MOCK_STREAMS.streamClass, namespace, name: 'orders' });
  await waitForSignal(client, orders, 'streamObserved');
  await waitFor('the follower to see the stream too (warm cache)', async () => (await seen(follower)) >= 1);
  await waitFor('the leader to count what it sent', async () => (await sent(leader)) >= 1);
  assert.equal(await sent(follower), 0, 'the follower sent nothing');

  const lease = await readLease(namespace);
  assert.equal(lease.spec?.holderIdentity, leader.identity);
  assert.equal(lease.spec?.leaseDurationSeconds, 3);
  assert.match(String(lease.spec?.renewTime), MICRO_TIME);

  await leader.stop();
  await waitFor('the follower to lead', () => follower.isLeader(), { timeoutMs: 3_000 });
  await streams.create(MOCK_STREAMS, 'payments');
  const payments = streamWorkflowId({ streamClass: MOCK_STREAMS.streamClass, namespace, name: 'payments' });
  await waitForSignal(client, payments, 'streamObserved');
  await waitFor('the new leader to count what it sent', async () => (await sent(follower)) >= 1);
});

test('a lease whose holder stopped renewing is taken over once it expires', async (t) => {
  const { namespace, replica } = await setup(t, 'expiry');
  const held = await holdLease(namespace, 'crashed-replica_0000', 2);
  const watcher = await replica('a');
  await waitFor('the watcher to take the expired lease', () => watcher.isLeader(), { timeoutMs: 6_000 });
  const lease = await readLease(namespace);
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

  await holdLease(namespace, 'other-replica_ffff', 30);
  await waitFor('the watcher to step down', () => !watcher.isLeader(), { timeoutMs: 3_000 });
  const sentBefore = await sent(watcher);
  await streams.create(MOCK_STREAMS, 'orders');
  await waitFor('the stream event to be seen', async () => (await seen(watcher)) >= 1);

  assert.equal(await sent(watcher), sentBefore);
  const orders = streamWorkflowId({ streamClass: MOCK_STREAMS.streamClass, namespace, name: 'orders' });
  await assert.rejects(client.workflow.getHandle(orders).describe(), /not found/i);
});
