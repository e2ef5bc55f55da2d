// No secret value reaches Temporal, checked on fresh histories: a stream whose Secret holds a marker made for this run
// goes through its lifecycle on the real worker, and everything the Temporal server keeps of its workflow (payloads,
// memo, search attributes, failure messages, pending activities) is searched for the marker. What the workflow derived
// from the stream (its spec's hash, the name of the BackfillRequest it opened) must show: proof that the search reads
// the payloads. (Every other history of the run is searched for the test plugin's Secret at its end: global-setup.ts.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { requestBackfill, resumeStream, suspendStream } from '../../client/streams.ts';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { deletedSignal, type StreamStatus } from '../../workflows/messages.ts';
import { runsHoldingSecrets, runText } from '../history-secrets.ts';
import { installTestPlugin, testNamespace } from './kube.ts';
import { kubeConfig } from './stack-env.ts';
import {
  createStream,
  forwardWorkloadEvents,
  observeStream,
  startWorkerHarness,
  waitForState,
  type WorkerHarness,
} from './stream-harness.ts';
import { exampleStream, MOCK_STREAMS_V2, Streams } from './watcher-harness.ts';

const kc = kubeConfig();
let harness: WorkerHarness;

before(async () => {
  harness = await startWorkerHarness(kc);
});

after(() => harness?.stop());

const marker = (what: string) => `${what}-marker-${randomBytes(8).toString('hex')}`;

it('keeps a Secret value out of everything Temporal holds of a stream that went through its lifecycle', async (t) => {
  const namespace = await testNamespace(t, kc, 'secret-marker');
  await installTestPlugin(kc, namespace);
  const secretValue = `mock://user:${marker('secret')}@localhost/db`;
  const specMarker = marker('spec');
  const secretName = 'marker-connection';
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace,
    body: { metadata: { name: secretName }, stringData: { ARCANE_CONNECTIONSTRING: secretValue } },
  });
  const example = exampleStream('mock-v2-job');
  const spec = { ...example.spec, connectionStringRef: { name: secretName }, source: `mock://source/${specMarker}` };
  const object = {
    apiVersion: example.apiVersion,
    kind: example.kind,
    metadata: { name: 'invoices', namespace },
    spec,
  };
  const stream = await createStream(kc, MOCK_STREAMS_V2.streamClass, object);
  const handle = await observeStream(harness, stream);
  await forwardWorkloadEvents(t, kc, handle, stream);
  const running = (s: StreamStatus) => s.phase === 'Running' && s.job?.backfilling === false;
  const first = await waitForState(handle, 'Running', running);
  const job = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ namespace, name: 'invoices' });
  assert.equal(job.spec?.template.spec?.containers[0]?.envFrom?.at(-1)?.secretRef?.name, secretName, 'in use');

  // A spec change, a suspension with a backfill requested meanwhile, a resume and the deletion.
  await new Streams(kc, namespace).changeSpec(MOCK_STREAMS_V2, 'invoices', `mock://source/${specMarker}/changed`);
  await observeStream(harness, stream);
  await waitForState(handle, 'Running the new spec', (s) => running(s) && s.job?.uid !== first.job?.uid);
  await suspendStream(harness.client, stream);
  await observeStream(harness, stream);
  await waitForState(handle, 'Suspended', (s) => s.phase === 'Suspended' && s.job === undefined);
  const backfill = await requestBackfill(harness.client, stream);
  assert.equal(backfill.created, true);
  await resumeStream(harness.client, stream);
  await observeStream(harness, stream);
  await waitForState(handle, 'Running after the backfill', (s) => running(s) && s.openBackfillRequests.length === 0);
  await new Streams(kc, namespace).delete(MOCK_STREAMS_V2, 'invoices');
  await handle.signal(deletedSignal, { reason: 'test deleted the stream' });
  assert.equal(((await handle.result()) as StreamStatus).ended, 'deleted');

  const text = await runText(harness.client, handle.workflowId);
  assert.ok(text.includes(first.configurationHash), 'the search sees the hash of the spec in activity results');
  assert.ok(text.includes(backfill.name), 'and the BackfillRequest in an update result');
  const workflowId = streamWorkflowId(stream);
  const { searched, found } = await runsHoldingSecrets(harness.client, [secretValue], `WorkflowId = '${workflowId}'`);
  assert.ok(searched >= 1, 'every run of the workflow was searched');
  assert.deepEqual(found, [], 'the Secret value is nowhere in Temporal');
});
