// The watcher driving real stream workflows (worker with the real activities): a stream created with kubectl runs,
// and a stream deleted with kubectl takes its workflow to completion.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { waitFor } from '../../stack/wait.ts';
import { installTestPlugin, testNamespace } from './kube.ts';
import { kubeConfig } from './stack-env.ts';
import { startWorkerHarness } from './stream-harness.ts';
import { MOCK_STREAMS, startTestWatcher, Streams } from './watcher-harness.ts';

test('a stream created in Kubernetes runs, and its workflow completes when it is deleted', async (t) => {
  const kc = kubeConfig();
  const namespace = await testNamespace(t, kc, 'watch-e2e');
  await installTestPlugin(kc, namespace);
  const worker = await startWorkerHarness(kc);
  t.after(() => worker.stop());
  const watcher = await startTestWatcher(t, { namespace, taskQueue: worker.taskQueue, name: 'e2e', kubeConfig: kc });
  await watcher.ready();

  const streams = new Streams(kc, namespace);
  await streams.create(MOCK_STREAMS, 'orders');
  const custom = kc.makeApiClient(CustomObjectsApi);
  await waitFor(
    'the stream to run',
    async () => {
      const stream = (await custom.getNamespacedCustomObject({ ...MOCK_STREAMS, namespace, name: 'orders' })) as {
        status?: { phase?: string };
      };
      return stream.status?.phase === 'Running';
    },
    { timeoutMs: 60_000 },
  );

  await streams.delete(MOCK_STREAMS, 'orders');
  const handle = worker.client.workflow.getHandle(
    streamWorkflowId({ streamClass: MOCK_STREAMS.streamClass, namespace, name: 'orders' }),
  );
  await waitFor('the workflow to complete', async () => (await handle.describe()).status.name === 'COMPLETED', {
    timeoutMs: 60_000,
  });
  const result = (await handle.result()) as { ended?: string };
  assert.equal(result.ended, 'deleted');
});
