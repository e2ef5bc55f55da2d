// Signal delivery: bursts coalesce per workflow, failures are retried, and a replica that stops leading stops at once.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { waitFor } from '../../../../stack/wait.ts';
import { WatcherMetrics } from '../../../../watcher/metrics.ts';
import {
  coalesce,
  SignalDispatcher,
  versionOf,
  type Delivery,
  type SignalSender,
  type StreamSignal,
} from '../../../../watcher/runtime/signals.ts';
import { versionKey } from '../../../../workflows/lifecycle/versions.ts';
import {
  backfillRequestObservedSignal,
  deletedSignal,
  jobObservedSignal,
  resyncSignal,
  streamObservedSignal,
  templateObservedSignal,
} from '../../../../workflows/messages.ts';

const orders = { streamClass: 'mock', namespace: 'data', name: 'orders' };
const notice = (signal: StreamSignal, reason: string = signal.name): Delivery => ({ stream: orders, signal, reason });

describe('coalescing', () => {
  test('notices of one name merge into the latest', () => {
    const queue = [notice(streamObservedSignal, 'generation 1 -> 2')].reduce(coalesce, []);
    assert.deepEqual(coalesce(queue, notice(streamObservedSignal, 'generation 2 -> 3')), [
      notice(streamObservedSignal, 'generation 2 -> 3'),
    ]);
  });

  test('the latest notice about a Job carries what it saw; a Job and a CronJob notice merged carry nothing', () => {
    const job = (state: 'active' | 'complete') => ({
      job: { uid: 'u1', backfilling: false, state, terminating: false, labelled: true },
    });
    const first: Delivery = { ...notice(jobObservedSignal, 'Job started'), observed: job('active') };
    const second: Delivery = { ...notice(jobObservedSignal, 'Job completed'), observed: job('complete') };
    assert.deepEqual(coalesce([first], second), [second]);
    const cron: Delivery = { ...notice(jobObservedSignal, 'CronJob created'), observed: { cronJob: null } };
    const [merged] = coalesce([first], cron);
    assert.equal(merged?.reason, 'CronJob created');
    assert.equal(merged?.observed, undefined, 'the Job notice must not be taken as seen');
    const [plain] = coalesce([notice(jobObservedSignal)], second);
    assert.equal(plain?.observed, undefined, 'a notice that saw nothing stands for one that did');
  });

  test('notices of different names keep their order', () => {
    const queue = [notice(streamObservedSignal), notice(jobObservedSignal), notice(streamObservedSignal)].reduce(
      coalesce,
      [],
    );
    assert.deepEqual(
      queue.map((d) => d.signal.name),
      ['streamObserved', 'jobObserved'],
    );
  });

  test('a deletion makes everything queued before it pointless', () => {
    const queue = [notice(streamObservedSignal), notice(jobObservedSignal), notice(deletedSignal)].reduce(coalesce, []);
    assert.deepEqual(
      queue.map((d) => d.signal.name),
      ['deleted'],
    );
  });

  test('a stream recreated after its deletion is signalled after the deletion', () => {
    const queue = [notice(deletedSignal), notice(streamObservedSignal)].reduce(coalesce, []);
    assert.deepEqual(
      queue.map((d) => d.signal.name),
      ['deleted', 'streamObserved'],
    );
  });

  test('a merged notice carries each object at the newest version either notice saw it', () => {
    const job = { ...notice(jobObservedSignal, 'Job started'), versions: { [versionKey.job]: '120' } };
    const cron = { ...notice(jobObservedSignal, 'CronJob created'), versions: { [versionKey.cronJob]: '99' } };
    const [merged] = coalesce([job], cron);
    assert.equal(merged?.reason, 'CronJob created');
    assert.deepEqual(merged?.versions, { [versionKey.job]: '120', [versionKey.cronJob]: '99' });
  });

  test('merged in either order, two notices about one object keep its newer version', () => {
    const older = { ...notice(streamObservedSignal, 'generation 1 -> 2'), versions: { [versionKey.stream]: '1000' } };
    const newer = { ...notice(streamObservedSignal, 'generation 2 -> 3'), versions: { [versionKey.stream]: '999' } };
    assert.deepEqual(coalesce([older], newer)[0]?.versions, { [versionKey.stream]: '1000' });
    assert.deepEqual(coalesce([newer], older)[0]?.versions, { [versionKey.stream]: '1000' });
  });

  test('two resyncs merged require the newer version of the stream, and say nothing it shows', () => {
    const older = { ...notice(resyncSignal, 'resync: listed'), required: { [versionKey.stream]: '1000' } };
    const newer = { ...notice(resyncSignal, 'resync: listed again'), required: { [versionKey.stream]: '1001' } };
    for (const merged of [coalesce([older], newer), coalesce([newer], older)]) {
      assert.equal(merged.length, 1);
      assert.deepEqual(merged[0]?.required, { [versionKey.stream]: '1001' });
      assert.equal(merged[0]?.versions, undefined);
    }
  });

  test('one template notice merged with another keeps the versions of both templates', () => {
    const first = { ...notice(templateObservedSignal), versions: { [versionKey.template('data', 'streaming')]: '7' } };
    const second = { ...notice(templateObservedSignal), versions: { [versionKey.template('data', 'backfill')]: '8' } };
    assert.deepEqual(coalesce([first], second)[0]?.versions, {
      [versionKey.template('data', 'streaming')]: '7',
      [versionKey.template('data', 'backfill')]: '8',
    });
  });

  test('two notices about one Job merge into the later, with what it saw of the Job and its version', () => {
    const seen = {
      job: { uid: 'u1', backfilling: false, state: 'active' as const, terminating: false, labelled: true },
    };
    const first: Delivery = { ...notice(jobObservedSignal), observed: seen, versions: { [versionKey.job]: '5' } };
    const second: Delivery = { ...notice(jobObservedSignal), observed: seen, versions: { [versionKey.job]: '6' } };
    assert.deepEqual(coalesce([first], second), [second]);
  });

  test('notices without versions merge into one without versions', () => {
    const [merged] = coalesce([notice(resyncSignal, 'first')], notice(resyncSignal, 'second'));
    assert.deepEqual(merged, notice(resyncSignal, 'second'));
    assert.equal('versions' in (merged ?? {}), false);
  });

  test('a deletion carries no versions, whatever was queued before it', () => {
    const stream = { ...notice(streamObservedSignal), versions: { [versionKey.stream]: '3' } };
    assert.deepEqual([stream, notice(deletedSignal)].reduce(coalesce, []), [notice(deletedSignal)]);
  });

  test('notices of different names keep their own versions', () => {
    const stream = { ...notice(streamObservedSignal), versions: { [versionKey.stream]: '3' } };
    const request = {
      ...notice(backfillRequestObservedSignal),
      versions: { [versionKey.backfillRequest('again')]: '4' },
    };
    assert.deepEqual(
      [stream, request].reduce(coalesce, []).map((d) => d.versions),
      [{ [versionKey.stream]: '3' }, { [versionKey.backfillRequest('again')]: '4' }],
    );
  });

  test('a merged notice keeps signal-with-start when either had it', () => {
    const started = { ...notice(resyncSignal), start: { kind: 'MockStream' } };
    assert.deepEqual(coalesce([started], notice(resyncSignal))[0]?.start, { kind: 'MockStream' });
  });
});

describe('the version a notice carries', () => {
  test("an object's resourceVersion under the key of what it is", () => {
    const object = { metadata: { name: 'orders', resourceVersion: '4711' } };
    assert.deepEqual(versionOf(versionKey.stream, object), { stream: '4711' });
  });

  test('an object without a resourceVersion gives no versions', () => {
    assert.equal(versionOf(versionKey.job, { metadata: { name: 'orders' } }), undefined);
    assert.equal(versionOf(versionKey.job, {}), undefined);
  });
});

function dispatcher(send: SignalSender, batchMs?: number) {
  const metrics = new WatcherMetrics(() => []);
  const signals = new SignalDispatcher({
    send,
    log: pino({ level: 'silent' }),
    metrics,
    maxInFlight: 4,
    retry: { initialMs: 10, maxMs: 20 },
    batchMs,
  });
  signals.setEnabled(true);
  return { signals, metrics };
}

/**
 * Sends a `jobObserved` notice to the same workflow and waits until it is delivered. One workflow's notices go out one
 * at a time in the order they were queued, so anything still due before it has been attempted by then: the barrier
 * that makes "nothing more was sent" checkable.
 */
async function sendMarker(signals: SignalDispatcher, metrics: WatcherMetrics): Promise<void> {
  signals.send(notice(jobObservedSignal, 'marker'));
  await waitFor(
    'the marker delivered',
    async () => (await metrics.value(metrics.signalsSent, { signal: 'jobObserved' })) === 1,
  );
}

describe('delivery', () => {
  test('a burst of events to one stream while a signal is in flight becomes one more signal', async () => {
    const sent: string[] = [];
    let release: () => void = () => undefined;
    const firstSent = new Promise<void>((resolve) => (release = resolve));
    const { signals, metrics } = dispatcher(async (d) => {
      sent.push(d.reason);
      if (sent.length === 1) await firstSent;
      return true;
    });
    signals.send(notice(streamObservedSignal, 'generation 1'));
    for (let generation = 2; generation <= 10; generation++)
      signals.send(notice(streamObservedSignal, `generation ${generation}`));
    release();
    await waitFor('both signals sent', async () => (await metrics.value(metrics.signalsSent)) === 2);
    await sendMarker(signals, metrics);
    assert.deepEqual(sent, ['generation 1', 'generation 10', 'marker']);
  });

  test("with a batch window, the events that follow a stream's first notice go out with it", async () => {
    const sent: string[] = [];
    const { signals, metrics } = dispatcher((d) => {
      sent.push(d.reason);
      return Promise.resolve(true);
    }, 60_000);
    signals.send(notice(streamObservedSignal, 'generation 1'));
    signals.send(notice(streamObservedSignal, 'generation 2'));
    signals.send(notice(jobObservedSignal, 'Job created'));
    signals.send(notice(jobObservedSignal, 'Job started'));
    // Nothing goes out while the window is open; a stop drops what it held.
    assert.deepEqual(sent, []);
    assert.equal(signals.pending, 2);
    await signals.stop();
    assert.equal(await metrics.value(metrics.signalsSent), 0);

    const quickSent: string[] = [];
    const quick = dispatcher((d) => {
      quickSent.push(d.reason);
      return Promise.resolve(true);
    }, 1);
    quick.signals.send(notice(streamObservedSignal, 'generation 1'));
    quick.signals.send(notice(streamObservedSignal, 'generation 2'));
    await waitFor('the batch sent', async () => (await quick.metrics.value(quick.metrics.signalsSent)) === 1);
    await sendMarker(quick.signals, quick.metrics);
    assert.deepEqual(quickSent, ['generation 2', 'marker']);
  });

  test('a failed signal is retried until it is delivered', async () => {
    const attempts: string[] = [];
    const { signals, metrics } = dispatcher((d) => {
      attempts.push(d.signal.name);
      return attempts.length < 3 ? Promise.reject(new Error('UNAVAILABLE')) : Promise.resolve(true);
    });
    signals.send(notice(resyncSignal));
    await waitFor(
      'the signal delivered',
      async () => (await metrics.value(metrics.signalsSent, { signal: 'resync' })) === 1,
    );
    await sendMarker(signals, metrics);
    assert.deepEqual(attempts, ['resync', 'resync', 'resync', 'jobObserved'], 'no attempt after the delivery');
    assert.equal(await metrics.value(metrics.signalFailures, { signal: 'resync' }), 2);
  });

  test('a replica that stops leading drops what it has not sent', async () => {
    const attempts: string[] = [];
    const { signals, metrics } = dispatcher((d) => {
      attempts.push(d.signal.name);
      return d.signal.name === 'resync' ? Promise.reject(new Error('UNAVAILABLE')) : Promise.resolve(true);
    });
    signals.send(notice(resyncSignal));
    await waitFor('a first attempt', async () => (await metrics.value(metrics.signalFailures)) >= 1);
    signals.setEnabled(false);
    const attemptsWhileLeading = attempts.length;
    assert.equal(signals.pending, 0);
    signals.send(notice(resyncSignal));
    assert.equal(signals.pending, 0);
    // Leading again: a resync kept (or retried late) would be attempted before the marker.
    signals.setEnabled(true);
    await sendMarker(signals, metrics);
    assert.deepEqual(attempts.slice(attemptsWhileLeading), ['jobObserved']);
    await signals.stop();
  });
});
