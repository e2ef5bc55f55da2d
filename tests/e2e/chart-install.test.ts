// The Helm chart installed for real (`helm install` into a local control plane of its own), then the watcher and the
// worker run as the chart configures them, under a token of the chart's ServiceAccount (a TokenRequest, not the admin
// token), through a recording proxy: a stream's whole life works under the chart's RBAC, no call is refused, and every
// permission the ServiceAccount holds was used (least privilege shown by running). Then `helm upgrade` and
// `helm uninstall`, which leaves the streams' Jobs running.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  PolicyV1Api,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
  type RbacV1Subject,
  type V1CronJob,
} from '@kubernetes/client-node';
import { resumeStream, suspendStream } from '../../client/streams.ts';
import { applyObjects, applyYaml, installTestPluginClasses, TEST_PLUGIN } from '../../stack/manifests.ts';
import type { OperatorProcess } from '../../stack/operator-process.ts';
import { toolchain } from '../../stack/toolchain.ts';
import { waitFor } from '../../stack/wait.ts';
import { runTool } from '../run-tool.ts';
import { ApiRecorder, permissionName } from './api-recorder.ts';
import { Cluster, MOCK_STREAMS, MOCK_STREAMS_V2 } from './cluster.ts';
import { useOwnStack, type OwnStack } from './own-stack.ts';
import { waitForCompletion } from './workflow.ts';

const CHART = new URL('../../deploy/chart/arcane-temporal', import.meta.url).pathname;
// A release named after the chart keeps the chart's object names short: `arcane-temporal-watcher`.
const RELEASE = 'arcane-temporal';
const NAMESPACE = 'arcane-system';
const ACCOUNT = 'arcane-operator';
const OUTCOME_FINALIZER = 'arcane.sneaksanddata.com/outcome';

const tools = toolchain();
let recorder: ApiRecorder;
let processes: OperatorProcess[] = [];
let notes = '';

function helm(own: OwnStack, args: string[]): Promise<string> {
  return runTool(tools.helm, [...args, '--kubeconfig', own.stack.kubeconfigPath, '-n', NAMESPACE]);
}

/**
 * What a plugin chart grants the ServiceAccount named arcane-operator for its stream CRDs: here the test plugin's two
 * kinds, exactly what the operator does with streams (read and watch them, set `suspended`, write their status).
 */
function pluginRbac() {
  const name = 'mock-streams-arcane-operator';
  const resources = ['mockstreams', 'mockstreamv2s'];
  const rules: V1PolicyRule[] = [
    { apiGroups: ['streaming.sneaksanddata.com'], resources, verbs: ['get', 'list', 'watch', 'patch'] },
    {
      apiGroups: ['streaming.sneaksanddata.com'],
      resources: resources.map((resource) => `${resource}/status`),
      verbs: ['patch'],
    },
  ];
  const subjects: RbacV1Subject[] = [{ kind: 'ServiceAccount', name: ACCOUNT, namespace: NAMESPACE }];
  const roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name };
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name }, roleRef, subjects },
  ];
}

/** A kubeconfig holding a fresh token of the chart's ServiceAccount, pointed at the recording proxy. */
async function serviceAccountKubeconfig(own: OwnStack): Promise<string> {
  const core = own.admin.makeApiClient(CoreV1Api);
  const { status } = await core.createNamespacedServiceAccountToken({
    name: ACCOUNT,
    namespace: NAMESPACE,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = own.admin.getCurrentCluster()!;
  const pki = join(own.stack.dir, 'pki');
  const tls = { cert: readFileSync(join(pki, 'apiserver.crt')), key: readFileSync(join(pki, 'apiserver.key')) };
  recorder = await ApiRecorder.start(cluster.server, tls);
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server: recorder.url, 'certificate-authority-data': cluster.caData } }],
    users: [{ name: ACCOUNT, user: { token: status!.token } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user: ACCOUNT } }],
    'current-context': 'local',
  };
  const path = join(own.stack.dir, 'arcane-operator.kubeconfig');
  writeFileSync(path, JSON.stringify(kubeconfig), { mode: 0o600 });
  return path;
}

/**
 * The environment the chart gives the process's container, as a pod would see it, with the ServiceAccount's
 * kubeconfig in place of the in-cluster one.
 */
async function chartEnv(own: OwnStack, component: string, kubeconfig: string): Promise<Record<string, string>> {
  const name = `${RELEASE}-${component}`;
  const deployment = await own.admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace: NAMESPACE });
  const fields: Record<string, string> = { 'metadata.name': `${name}-local`, 'metadata.namespace': NAMESPACE };
  const env = (deployment.spec?.template.spec?.containers[0]?.env ?? []).map((variable) => {
    const value = variable.value ?? fields[variable.valueFrom?.fieldRef?.fieldPath ?? ''];
    if (value === undefined) throw new Error(`${name}: no local value for the chart's variable ${variable.name}`);
    return [variable.name, value] as const;
  });
  return {
    ...(Object.fromEntries(env) as Record<string, string>),
    ARCANE_IN_CLUSTER: 'false',
    ARCANE_KUBECONFIG: kubeconfig,
  };
}

/** Creates a copy of `cronJob` as the upstream operator would have made it: no labels of ours, no owner; its uid. */
async function createAsUpstream(own: OwnStack, namespace: string, cronJob: V1CronJob): Promise<string> {
  const { name, annotations, labels } = cronJob.metadata!;
  const upstreams = (map: Record<string, string> = {}) =>
    Object.fromEntries(Object.entries(map).filter(([key]) => !key.startsWith('arcane')));
  const body = {
    metadata: { name, annotations: upstreams(annotations), labels: upstreams(labels) },
    spec: cronJob.spec,
  };
  const created = await own.admin.makeApiClient(BatchV1Api).createNamespacedCronJob({ namespace, body });
  return created.metadata!.uid!;
}

/** Every permission the ServiceAccount holds through role bindings, named as the recorder names calls. */
async function grantedPermissions(own: OwnStack): Promise<Set<string>> {
  const rbac = own.admin.makeApiClient(RbacAuthorizationV1Api);
  const isAccount = (subject: RbacV1Subject) =>
    subject.kind === 'ServiceAccount' && subject.name === ACCOUNT && subject.namespace === NAMESPACE;
  const [clusterBindings, bindings] = await Promise.all([
    rbac.listClusterRoleBinding(),
    rbac.listNamespacedRoleBinding({ namespace: NAMESPACE }),
  ]);
  const rules: V1PolicyRule[] = [];
  for (const binding of [...clusterBindings.items, ...bindings.items]) {
    if (!(binding.subjects ?? []).some(isAccount)) continue;
    const { kind, name } = binding.roleRef;
    const role =
      kind === 'ClusterRole'
        ? await rbac.readClusterRole({ name })
        : await rbac.readNamespacedRole({ name, namespace: NAMESPACE });
    rules.push(...(role.rules ?? []));
  }
  return new Set(
    rules.flatMap((rule) =>
      (rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? []).flatMap((resource) => rule.verbs.map((verb) => permissionName(verb, group, resource))),
      ),
    ),
  );
}

describe('the Helm chart installed for real, with the operator under its ServiceAccount', () => {
  const own = useOwnStack(async (own) => {
    // Deployments' pods run on the fake node (kwok marks them Running and Ready), so --wait sees a rollout.
    notes = await helm(own, [
      'install',
      RELEASE,
      CHART,
      '--create-namespace',
      '--wait',
      '--timeout',
      '120s',
      '--set',
      `temporal.address=${own.stack.temporalAddress}`,
      '--set',
      `temporal.namespace=${own.stack.temporalNamespace}`,
    ]);
    await installTestPluginClasses(own.admin, [TEST_PLUGIN]);
    await applyObjects(own.admin, pluginRbac());
    const kubeconfig = await serviceAccountKubeconfig(own);
    workerEnv = await chartEnv(own, 'worker', kubeconfig);
    // The first scenario's worker reads every observation from the API server, as it does whenever its cache cannot
    // answer (not yet listed, behind, turned off): those reads need the same permissions. The worker that follows
    // keeps the chart's default cache, whose watches must not be refused either.
    const worker = own.process('worker', { ...workerEnv, ARCANE_OBSERVATION_CACHE_ENABLED: 'false' });
    const watcher = own.process('watcher', await chartEnv(own, 'watcher', kubeconfig));
    processes = [worker, watcher];
    await worker.start();
    await watcher.start();
  });
  let workerEnv: Record<string, string> = {};
  after(() => recorder?.close());
  let cluster: Cluster;

  it(
    'installs the HA shape: two watchers and two workers, a disruption budget each, replicas spread over nodes',
    own.step(async () => {
      const apps = own.admin.makeApiClient(AppsV1Api);
      const policy = own.admin.makeApiClient(PolicyV1Api);
      for (const component of ['watcher', 'worker']) {
        const name = `${RELEASE}-${component}`;
        const deployment = await apps.readNamespacedDeployment({ name, namespace: NAMESPACE });
        assert.equal(deployment.status?.readyReplicas, 2, `${name} ready replicas`);
        const spread = deployment.spec?.template.spec?.affinity?.podAntiAffinity;
        const term = spread?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
        assert.equal(term?.topologyKey, 'kubernetes.io/hostname', `${name} prefers one replica per node`);
        assert.equal(term?.labelSelector?.matchLabels?.['app.kubernetes.io/component'], component);
        const budget = await policy.readNamespacedPodDisruptionBudget({ name, namespace: NAMESPACE });
        assert.equal(budget.spec?.maxUnavailable, 1);
        // The budget's selector finds the Deployment's pods: the disruption controller counts them.
        await waitFor(`${name}'s budget to count its pods`, async () => {
          const status = (await policy.readNamespacedPodDisruptionBudget({ name, namespace: NAMESPACE })).status;
          return status?.expectedPods === 2 && status.disruptionsAllowed === 1;
        });
      }
      assert.match(notes, /leader elected on Lease arcane-temporal-watcher/);
    }),
  );

  it(
    "runs a stream through create, backfill, suspend, resume and delete under the chart's RBAC",
    own.step(async () => {
      const namespace = await Cluster.createNamespace(own.admin, 'chart-streams');
      await applyYaml(own.admin, TEST_PLUGIN.namespacedFiles, namespace);
      cluster = new Cluster(own.admin, namespace);

      const stream = await cluster.createStream(MOCK_STREAMS, 'orders');
      await cluster.waitForPhase(stream, 'Running');
      assert.equal((await cluster.backfillRequests(stream.name)).length, 1, 'the initial backfill ran first');

      await cluster.createBackfillRequest('orders-backfill', stream);
      await waitFor('the requested backfill completed', async () => {
        return (await cluster.readBackfillRequest('orders-backfill')).spec.completed === true;
      });
      await cluster.waitForPhase(stream, 'Running');

      // Suspended twice, first by a spec change (kubectl), then through the workflow's updates, which set `suspended`
      // themselves. The second StreamSuspended Event is the first one counted again (read, then patched).
      const ways = [
        {
          suspend: () => cluster.patchSpec(stream, { suspended: true }),
          resume: () => cluster.patchSpec(stream, { suspended: false }),
        },
        { suspend: () => suspendStream(own.temporal, stream), resume: () => resumeStream(own.temporal, stream) },
      ];
      for (const way of ways) {
        await way.suspend();
        await cluster.waitForPhase(stream, 'Suspended');
        await waitFor('the suspended stream has no Job', async () => (await cluster.job(stream.name)) === undefined);
        await way.resume();
        await cluster.waitForPhase(stream, 'Running');
      }
      const suspended = (await cluster.events(stream)).filter((event) => event.reason === 'StreamSuspended');
      assert.deepEqual(
        suspended.map((event) => event.count),
        [2],
      );

      await cluster.deleteStream(stream);
      assert.equal((await waitForCompletion(own.temporal, stream)).ended, 'deleted');
      await waitFor('the deleted stream has no Job', async () => (await cluster.job(stream.name)) === undefined);
    }),
  );

  it(
    'runs a CronJob stream and rejects a request for an unknown stream under the same RBAC',
    own.step(async () => {
      // From here on with the chart's settings, its observation cache included.
      const [uncached, ...others] = processes;
      await uncached?.stop();
      const worker = own.process('worker', workerEnv);
      await worker.start();
      processes = [worker, ...others];

      const nightly = await cluster.createStream(MOCK_STREAMS_V2, 'nightly', { example: 'mock-v2-cron' });
      await cluster.waitForPhase(nightly, 'Scheduled');
      const made = await cluster.cronJob(nightly.name);
      assert.ok(made, 'its CronJob exists');
      await suspendStream(own.temporal, nightly);
      await cluster.waitForPhase(nightly, 'Suspended');
      await waitFor('the suspended CronJob is gone', async () => (await cluster.cronJob(nightly.name)) === undefined);
      await cluster.deleteStream(nightly);
      assert.equal((await waitForCompletion(own.temporal, nightly)).ended, 'deleted');

      // The same CronJob as the upstream operator leaves it (without our labels), then its stream again: adopted.
      const upstream = await createAsUpstream(own, cluster.namespace, made);
      const again = await cluster.createStream(MOCK_STREAMS_V2, 'nightly', { example: 'mock-v2-cron' });
      await cluster.waitForPhase(again, 'Scheduled');
      const adopted = await waitFor('the CronJob adopted', async () => {
        const cronJob = await cluster.cronJob(again.name);
        return cronJob?.metadata?.labels?.['arcane/stream-id'] === again.name && cronJob;
      });
      assert.equal(adopted.metadata?.uid, upstream, 'adopted, not replaced');
      await cluster.deleteStream(again);
      assert.equal((await waitForCompletion(own.temporal, again)).ended, 'deleted');

      await cluster.createBackfillRequest('for-nobody', cluster.stream(MOCK_STREAMS, 'nobody'));
      await waitFor('the request for an unknown stream failed with StreamNotFound', async () => {
        const { status } = await cluster.readBackfillRequest('for-nobody');
        return status?.phase === 'Failed' && status.conditions?.[0]?.reason === 'StreamNotFound';
      });
    }),
  );

  it(
    'the operator was refused nothing, and used every permission the ServiceAccount holds',
    own.step(async () => {
      const refused = recorder.calls.filter((call) => call.status === 401 || call.status === 403);
      assert.deepEqual(
        refused.map((call) => `${call.permission} (${call.status}) ${call.path}`),
        [],
        'calls refused',
      );
      const used = recorder.permissions();
      const unused = [...(await grantedPermissions(own))].filter((permission) => !used.has(permission)).sort();
      assert.deepEqual(unused, [], 'permissions granted and never used');
    }),
  );

  it(
    'helm upgrade changes the Deployments in place; the streams and the ServiceAccount token keep working',
    own.step(async () => {
      const before = await cluster.createStream(MOCK_STREAMS, 'before-upgrade');
      await cluster.waitForPhase(before, 'Running');
      const job = (await cluster.job(before.name))?.metadata?.uid;
      await helm(own, ['upgrade', RELEASE, CHART, '--reuse-values', '--set', 'worker.replicas=3', '--wait']);
      const apps = own.admin.makeApiClient(AppsV1Api);
      const worker = await apps.readNamespacedDeployment({ name: `${RELEASE}-worker`, namespace: NAMESPACE });
      assert.equal(worker.spec?.replicas, 3);
      assert.match(await helm(own, ['history', RELEASE]), /\n2\s.*deployed\s.*Upgrade complete/);

      const after = await cluster.createStream(MOCK_STREAMS, 'after-upgrade');
      await cluster.waitForPhase(after, 'Running');
      assert.equal((await cluster.job(before.name))?.metadata?.uid, job, 'the stream from before kept its Job');
    }),
  );

  it(
    "helm uninstall removes the operator and leaves the streams' Jobs running, as NOTES.txt says",
    own.step(async () => {
      const jobs = new Map((await cluster.jobs()).map((job) => [job.metadata?.name, job.metadata?.uid]));
      assert.deepEqual([...jobs.keys()].sort(), ['after-upgrade', 'before-upgrade']);
      // Uninstalling removes the Deployments, whose pods stop with SIGTERM: so do the processes.
      for (const proc of processes) await proc.stop();
      await helm(own, ['uninstall', RELEASE, '--wait']);

      const apps = own.admin.makeApiClient(AppsV1Api);
      assert.deepEqual((await apps.listNamespacedDeployment({ namespace: NAMESPACE })).items, []);
      const accounts = await own.admin.makeApiClient(CoreV1Api).listNamespacedServiceAccount({ namespace: NAMESPACE });
      assert.ok(!accounts.items.some((account) => account.metadata?.name === ACCOUNT), 'the ServiceAccount is gone');
      const left = new Map((await cluster.jobs()).map((job) => [job.metadata?.name, job.metadata?.uid]));
      assert.deepEqual(left, jobs, 'every Job is still there, unchanged');
      for (const name of jobs.keys()) {
        const stream = await cluster.readStream(cluster.stream(MOCK_STREAMS, name!));
        assert.equal(stream.status?.phase, 'Running', `${name} is still Running`);
      }
      assert.match(notes, /helm uninstall.*leaves every stream's Job running/s);
      assert.ok(notes.includes(OUTCOME_FINALIZER), 'NOTES.txt says what happens to the outcome finalizer');
    }),
  );
});
