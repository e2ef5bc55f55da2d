// No secret value reaches Temporal when the operator runs as in production: a stream whose Secret holds a marker made
// for this run goes through its lifecycle under the real watcher and worker processes, then every workflow run on this
// stack's Temporal server is searched for the marker and for the test plugin's Secret values.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { streamWorkflowId } from '../../client/stream-id.ts';
import { waitFor } from '../../stack/wait.ts';
import { runsHoldingSecrets, runText, testPluginSecretValues } from '../history-secrets.ts';
import { MOCK_STREAMS_V2 } from './cluster.ts';
import { waitForConvergence } from './fleet.ts';
import { useOperator } from './operator.ts';
import { waitForCompletion } from './workflow.ts';

describe('secrets and workflow histories', () => {
  const operator = useOperator();

  it(
    'keeps a Secret value out of every history the operator writes',
    operator.scenario('secret-marker', async (cluster) => {
      const secretValue = `mock://user:secret-marker-${randomBytes(8).toString('hex')}@localhost/db`;
      await operator.kubeConfig.makeApiClient(CoreV1Api).createNamespacedSecret({
        namespace: cluster.namespace,
        body: { metadata: { name: 'marker-connection' }, stringData: { ARCANE_CONNECTIONSTRING: secretValue } },
      });
      const stream = await cluster.createStream(MOCK_STREAMS_V2, 'invoices', {
        spec: { connectionStringRef: { name: 'marker-connection' } },
      });
      await waitForConvergence(cluster, [stream]);
      const job = await cluster.job('invoices');
      const secretRef = job?.spec?.template.spec?.containers[0]?.envFrom?.at(-1)?.secretRef?.name;
      assert.equal(secretRef, 'marker-connection', 'the Job loads the Secret');

      // A spec change, a BackfillRequest, a suspension, a resume and the deletion.
      await cluster.patchSpec(stream, { source: 'mock://source/invoices-changed' });
      await waitForConvergence(cluster, [stream]);
      await cluster.createBackfillRequest('invoices-again', stream);
      const done = async () => (await cluster.readBackfillRequest('invoices-again')).spec.completed === true;
      await waitFor('the BackfillRequest done', done, { timeoutMs: 60_000 });
      await waitForConvergence(cluster, [stream]);
      await cluster.patchSpec(stream, { execution: { suspended: true } });
      await waitForConvergence(cluster, [stream], { phase: 'Suspended' });
      await cluster.patchSpec(stream, { execution: { suspended: false } });
      await waitForConvergence(cluster, [stream]);
      const { status } = await cluster.readStream(stream);
      await cluster.deleteStream(stream);
      assert.equal((await waitForCompletion(operator.temporal, stream)).ended, 'deleted');

      const text = await runText(operator.temporal, streamWorkflowId(stream));
      assert.ok(status?.configurationHash && text.includes(status.configurationHash), 'the search reads the payloads');
      const { searched, found } = await runsHoldingSecrets(operator.temporal, [
        secretValue,
        ...testPluginSecretValues(),
      ]);
      assert.ok(searched >= 1);
      assert.deepEqual(found, [], 'no Secret value in any workflow run of this stack');
    }),
  );
});
