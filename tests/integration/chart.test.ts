// The Helm chart (deploy/chart/arcane-temporal) against a real API server: it lints, renders in every mode (the HA shape
// by default), the API server accepts every object it renders, bad values fail with a message naming them, and its RBAC,
// applied for real, gives users with the built-in edit role BackfillRequests and the operator only its own Lease.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  AuthorizationV1Api,
  CoreV1Api,
  loadAllYaml,
  RbacAuthorizationV1Api,
  VersionApi,
  type KubernetesObject,
  type V1ClusterRole,
  type V1Container,
  type V1Deployment,
  type V1PodDisruptionBudget,
  type V1ResourceAttributes,
  type V1Service,
  type V1VolumeMount,
} from '@kubernetes/client-node';
import { toolchain } from '../../stack/toolchain.ts';
import { waitFor } from '../../stack/wait.ts';
import { runTool as run } from '../run-tool.ts';
import { testNamespace } from './kube.ts';
import { kubeConfig, stackEnv } from './stack-env.ts';

const CHART = new URL('../../deploy/chart/arcane-temporal', import.meta.url).pathname;
const GROUP = 'streaming.sneaksanddata.com';
const RBAC_TEMPLATES = ['serviceaccount.yaml', 'clusterroles.yaml', 'leader-election.yaml'];

const kc = kubeConfig();
const tools = toolchain();
let kubeVersion: string;

before(async () => {
  // What `helm install` would read from the cluster; `helm template` needs it told.
  kubeVersion = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
});

function kubectl(args: string[], input?: string): Promise<string> {
  return run(tools.kubectl, [...args, '--kubeconfig', stackEnv().kubeconfigPath], input);
}

/** `helm template` output with `--set` values: CRDs included, or only the given templates. */
function helmTemplate(values: string[] = [], release = 'arcane', namespace = 'arcane', only: string[] = []) {
  const sets = values.flatMap((value) => ['--set', value]);
  const selection =
    only.length === 0 ? ['--include-crds'] : only.flatMap((file) => ['--show-only', `templates/${file}`]);
  return run(tools.helm, [
    'template',
    release,
    CHART,
    '-n',
    namespace,
    '--kube-version',
    kubeVersion,
    ...selection,
    ...sets,
  ]);
}

function parse(manifest: string): KubernetesObject[] {
  return (loadAllYaml(manifest) as (KubernetesObject | null)[]).filter((document) => document !== null);
}

async function render(values: string[] = [], release?: string, namespace?: string): Promise<KubernetesObject[]> {
  return parse(await helmTemplate(values, release, namespace));
}

/** Helm's complaint about the values. */
async function rejection(values: string[]): Promise<string> {
  const error = await helmTemplate(values).then(
    () => assert.fail(`helm template accepted ${values.join(' ')}`),
    (error: Error) => error,
  );
  return error.message;
}

function ofKind<T extends KubernetesObject>(objects: KubernetesObject[], kind: string): T[] {
  return objects.filter((object) => object.kind === kind) as T[];
}

function podSpecs(objects: KubernetesObject[]) {
  return ofKind<V1Deployment>(objects, 'Deployment').map((deployment) => deployment.spec!.template.spec!);
}

function containers(objects: KubernetesObject[]): V1Container[] {
  return podSpecs(objects).flatMap((pod) => pod.containers);
}

function env(container: V1Container, name: string) {
  return container.env?.find((variable) => variable.name === name);
}

describe('Helm chart', () => {
  it('passes helm lint --strict', async () => {
    const output = await run(tools.helm, ['lint', '--strict', '--kube-version', kubeVersion, CHART]);
    assert.match(output, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('ships the Arcane CRDs', async () => {
    const crds = ofKind(await render(), 'CustomResourceDefinition').map((crd) => crd.metadata?.name);
    assert.deepEqual(crds.sort(), [
      `backfillrequests.${GROUP}`,
      `streamclasses.${GROUP}`,
      `streamingjobtemplates.${GROUP}`,
    ]);
  });

  it('runs the watcher and the worker under one ServiceAccount named arcane-operator', async () => {
    const objects = await render();
    assert.deepEqual(
      ofKind(objects, 'ServiceAccount').map((account) => account.metadata?.name),
      ['arcane-operator'],
    );
    const deployments = ofKind<V1Deployment>(objects, 'Deployment');
    assert.deepEqual(
      deployments.map((deployment) => [deployment.metadata?.name, deployment.spec?.template.spec?.serviceAccountName]),
      [
        ['arcane-arcane-temporal-watcher', 'arcane-operator'],
        ['arcane-arcane-temporal-worker', 'arcane-operator'],
      ],
    );
    assert.deepEqual(
      containers(objects).map((container) => container.args),
      [['watcher'], ['worker']],
    );
  });

  it('names the roles <fullname>-<role> and aggregates the viewers into view and the editors into edit', async () => {
    const roles = ofKind<V1ClusterRole>(await render([], 'arcane-temporal'), 'ClusterRole');
    const aggregation: Record<string, string> = Object.fromEntries(
      roles.map((role) => {
        const labels = role.metadata?.labels ?? {};
        const into = ['view', 'edit'].filter((to) => labels[`rbac.authorization.k8s.io/aggregate-to-${to}`] === 'true');
        return [role.metadata?.name ?? '', into.join()];
      }),
    );
    const roleNames = ['job', 'job-template', 'stream-class', 'backfill-request'];
    for (const role of roleNames) {
      assert.equal(aggregation[`arcane-temporal-${role}-viewer`], 'view', `${role}-viewer`);
      assert.equal(aggregation[`arcane-temporal-${role}-editor`], 'edit', `${role}-editor`);
    }
    assert.equal(aggregation['arcane-temporal-operator'], '', 'the operator-only role is not aggregated');
  });

  it('gives the watcher leader election, the Temporal connection and the pod identity', async () => {
    const [watcher] = containers(await render(['temporal.address=frontend.temporal:7233', 'temporal.namespace=prod']));
    assert.equal(env(watcher!, 'ARCANE_TEMPORAL_ADDRESS')?.value, 'frontend.temporal:7233');
    assert.equal(env(watcher!, 'ARCANE_TEMPORAL_NAMESPACE')?.value, 'prod');
    assert.equal(env(watcher!, 'ARCANE_TASK_QUEUE')?.value, 'arcane-streams');
    assert.equal(env(watcher!, 'ARCANE_IN_CLUSTER')?.value, 'true');
    assert.equal(env(watcher!, 'ARCANE_LEADER_ELECTION_ENABLED')?.value, 'true');
    assert.equal(env(watcher!, 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
    assert.equal(env(watcher!, 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
  });

  it('probes every container on the health port and runs it locked down', async () => {
    for (const container of containers(await render())) {
      const probes = [container.startupProbe, container.livenessProbe, container.readinessProbe];
      assert.deepEqual(
        probes.map((probe) => [probe?.httpGet?.path, probe?.httpGet?.port]),
        [
          ['/startup', 8888],
          ['/health', 8888],
          ['/health/ready', 8888],
        ],
        container.name,
      );
      assert.ok(container.resources?.requests && container.resources.limits, `${container.name} has resources`);
      assert.equal(container.securityContext?.runAsNonRoot, true);
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
      assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);
    }
  });

  it("moves probes, process ports and the metrics Service with upstream's settings keys", async () => {
    const objects = await render(['settings.probes.port=8000', 'settings.telemetry.metricsPort=9100']);
    for (const container of containers(objects)) {
      assert.equal(container.livenessProbe?.httpGet?.port, 8000);
      assert.equal(env(container, 'ARCANE_HEALTH_PORT')?.value, '8000');
      assert.equal(env(container, 'ARCANE_METRICS_PORT')?.value, '9100');
      assert.deepEqual(
        container.ports?.map((port) => [port.name, port.containerPort]),
        [
          ['health', 8000],
          ['metrics', 9100],
        ],
      );
    }
    const [service] = ofKind<V1Service>(objects, 'Service');
    assert.deepEqual(
      service?.spec?.ports?.map((port) => [port.name, port.port, port.targetPort]),
      [['metrics', 9100, 'metrics']],
    );
  });

  it('names the metrics Service <release>-metrics and selects both the watcher and the worker pods', async () => {
    const objects = await render([], 'ops');
    const [service] = ofKind<V1Service>(objects, 'Service');
    assert.equal(service?.metadata?.name, 'ops-metrics');
    const selector = Object.entries(service?.spec?.selector ?? {});
    for (const deployment of ofKind<V1Deployment>(objects, 'Deployment')) {
      const labels = deployment.spec?.template.metadata?.labels ?? {};
      assert.ok(
        selector.every(([key, value]) => labels[key] === value),
        `${deployment.metadata?.name} pods match the Service`,
      );
    }
  });

  it('defaults to the HA shape: two replicas of each Deployment, a budget each, replicas preferably apart', async () => {
    const objects = await render();
    const deployments = ofKind<V1Deployment>(objects, 'Deployment');
    const budgets = ofKind<V1PodDisruptionBudget>(objects, 'PodDisruptionBudget');
    assert.deepEqual(
      deployments.map((deployment) => deployment.spec?.replicas),
      [2, 2],
    );
    assert.deepEqual(
      budgets.map((budget) => [budget.metadata?.name, budget.spec?.maxUnavailable]),
      [
        ['arcane-arcane-temporal-watcher', 1],
        ['arcane-arcane-temporal-worker', 1],
      ],
    );
    for (const [i, deployment] of deployments.entries()) {
      const labels = deployment.spec?.template.metadata?.labels ?? {};
      const selects = (selector: Record<string, string> = {}) =>
        Object.entries(selector).every(([key, value]) => labels[key] === value);
      assert.ok(selects(budgets[i]?.spec?.selector?.matchLabels), `${deployment.metadata?.name}'s budget selects it`);
      const spread = deployment.spec?.template.spec?.affinity?.podAntiAffinity;
      const [preferred] = spread?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
      assert.equal(preferred?.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
      assert.ok(selects(preferred?.podAffinityTerm.labelSelector?.matchLabels), 'the term selects its own replicas');
      assert.equal(spread?.requiredDuringSchedulingIgnoredDuringExecution, undefined);
    }
  });

  it('requires anti-affinity, drops it, or takes an explicit affinity as asked', async () => {
    const spread = async (values: string[]) =>
      podSpecs(await render(values)).map((pod) => Object.keys(pod.affinity?.podAntiAffinity ?? {}));
    assert.deepEqual(await spread(['podAntiAffinity=required']), [
      ['requiredDuringSchedulingIgnoredDuringExecution'],
      ['requiredDuringSchedulingIgnoredDuringExecution'],
    ]);
    assert.deepEqual(await spread(['podAntiAffinity=none']), [[], []]);
    const explicit = await render([
      'affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight=5',
    ]);
    assert.deepEqual(
      podSpecs(explicit).map((pod) => [
        pod.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.weight,
        pod.affinity?.podAntiAffinity,
      ]),
      [
        [5, undefined],
        [5, undefined],
      ],
    );
  });

  it('renders one budget per Deployment, none when disabled', async () => {
    const names = async (values: string[]) =>
      ofKind(await render(values), 'PodDisruptionBudget').map((budget) => budget.metadata?.name);
    assert.deepEqual(await names(['combined.enabled=true']), ['arcane-arcane-temporal-combined']);
    assert.deepEqual(await names(['podDisruptionBudget.enabled=false']), []);
  });

  it('combined mode runs the watcher and the worker side by side in one pod on their own ports', async () => {
    const objects = await render(['combined.enabled=true', 'combined.replicas=2']);
    const deployments = ofKind<V1Deployment>(objects, 'Deployment');
    assert.deepEqual(
      deployments.map((deployment) => [deployment.metadata?.name, deployment.spec?.replicas]),
      [['arcane-arcane-temporal-combined', 2]],
    );
    assert.deepEqual(
      containers(objects).map((container) => [
        container.args,
        container.ports?.map((port) => `${port.name}:${port.containerPort}`),
        container.readinessProbe?.httpGet?.port,
      ]),
      [
        [['watcher'], ['health:8888', 'metrics:9090'], 8888],
        [['worker'], ['worker-health:8889', 'worker-metrics:9091'], 8889],
      ],
    );
    const [service] = ofKind<V1Service>(objects, 'Service');
    assert.deepEqual(
      service?.spec?.ports?.map((port) => port.name),
      ['metrics', 'worker-metrics'],
    );
  });

  it('passes the Temporal API key and TLS files from Secrets', async () => {
    const values = ['temporal.apiKey.secretName=temporal-key', 'temporal.tls.secretName=temporal-tls'];
    const objects = await render([...values, 'temporal.tls.serverName=temporal.example.com']);
    const [deployment] = ofKind<V1Deployment>(objects, 'Deployment');
    const volume = deployment?.spec?.template.spec?.volumes?.find((candidate) => candidate.secret);
    assert.equal(volume?.secret?.secretName, 'temporal-tls');
    for (const container of containers(objects)) {
      const apiKey = env(container, 'ARCANE_TEMPORAL_API_KEY')?.valueFrom?.secretKeyRef;
      assert.deepEqual([apiKey?.name, apiKey?.key], ['temporal-key', 'api-key']);
      assert.equal(env(container, 'ARCANE_TEMPORAL_TLS_SERVER_NAME')?.value, 'temporal.example.com');
      const mount: V1VolumeMount | undefined = container.volumeMounts?.find(
        (candidate) => candidate.name === volume?.name,
      );
      assert.equal(mount?.readOnly, true);
      assert.deepEqual(
        ['CA', 'CERT', 'KEY'].map((file) => env(container, `ARCANE_TEMPORAL_TLS_${file}_FILE`)?.value),
        [`${mount?.mountPath}/ca.crt`, `${mount?.mountPath}/tls.crt`, `${mount?.mountPath}/tls.key`],
      );
    }
  });

  const modes: Record<string, string[]> = {
    defaults: [],
    'combined mode': ['combined.enabled=true'],
    'TLS and API key': [
      'temporal.apiKey.secretName=temporal-key',
      'temporal.tls.secretName=temporal-tls',
      'temporal.tls.serverName=temporal.example.com',
    ],
  };
  for (const [mode, values] of Object.entries(modes)) {
    it(`the API server accepts every object rendered with ${mode} (server-side dry run)`, async (t) => {
      const namespace = await testNamespace(t, kc, 'chart-dry-run');
      const manifest = await helmTemplate(values, `dry-${randomUUID().slice(0, 6)}`, namespace);
      const output = await kubectl(['apply', '--dry-run=server', '-n', namespace, '-f', '-'], manifest);
      const accepted = output.trim().split('\n');
      assert.equal(accepted.length, parse(manifest).length, output);
      assert.ok(
        accepted.every((line) => line.endsWith('(server dry run)')),
        output,
      );
    });
  }

  it('rejects watcher.replicas that is not a number, naming the value', async () => {
    assert.match(await rejection(['watcher.replicas=two']), /\/watcher\/replicas': got string, want integer/);
  });

  it('rejects an unknown key, naming it', async () => {
    assert.match(await rejection(['wacther.replicas=2']), /additional properties 'wacther' not allowed/);
  });

  it('rejects a Temporal address without a port', async () => {
    assert.match(
      await rejection(['temporal.address=temporal-frontend']),
      /\/temporal\/address': 'temporal-frontend' does not match/,
    );
  });

  it('refuses several watcher replicas without leader election', async () => {
    assert.match(
      await rejection(['watcher.leaderElection.enabled=false']),
      /watcher\.leaderElection\.enabled must be true with more than one watcher replica/,
    );
  });
});

describe('Helm chart RBAC applied for real', () => {
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const authorization = kc.makeApiClient(AuthorizationV1Api);
  const release = `chart-${randomUUID().slice(0, 6)}`;
  let namespace = '';
  let clusterScoped: KubernetesObject[] = [];

  before(async () => {
    const created = await core.createNamespace({ body: { metadata: { generateName: 'chart-rbac-' } } });
    namespace = created.metadata!.name!;
    const manifest = await helmTemplate([], release, namespace, RBAC_TEMPLATES);
    clusterScoped = parse(manifest).filter((object) => object.kind?.startsWith('Cluster'));
    const apply = ['apply', '--server-side', '--field-manager', 'chart-test'];
    await kubectl([...apply, '-f', `${CHART}/crds`]);
    await kubectl([...apply, '-n', namespace, '-f', '-'], manifest);
  });

  after(async () => {
    // The CRDs stay: other tests share them, and they are the same as deploy/crds.
    const names = clusterScoped.map((object) => `${object.kind!.toLowerCase()}/${object.metadata!.name!}`);
    await kubectl(['delete', '--ignore-not-found', ...names]);
    await core.deleteNamespace({ name: namespace });
  });

  async function allowed(user: string, groups: string[], access: V1ResourceAttributes): Promise<boolean> {
    const review = await authorization.createSubjectAccessReview({
      body: { spec: { user, groups: [...groups, 'system:authenticated'], resourceAttributes: access } },
    });
    return review.status?.allowed ?? false;
  }

  async function bindUser(user: string, clusterRole: string): Promise<void> {
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: `${clusterRole}-${user}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    });
  }

  const backfillRequests = (verb: string) => ({ verb, group: GROUP, resource: 'backfillrequests', namespace });

  it('a user with only the built-in edit role can create a BackfillRequest', async () => {
    const user = `editor-${randomUUID().slice(0, 6)}`;
    await bindUser(user, 'edit');
    // The controller-manager aggregates the chart's editor roles into edit a moment after they appear.
    await waitFor('edit to include the backfill-request-editor role', () =>
      allowed(user, [], backfillRequests('create')),
    );
    const request = {
      apiVersion: `${GROUP}/v1`,
      kind: 'BackfillRequest',
      metadata: { name: 'by-an-editor', namespace },
      spec: { streamClass: 'mock-stream', streamId: 'stream-a' },
    };
    const output = await kubectl(['create', '--as', user, '-f', '-'], JSON.stringify(request));
    assert.match(output, /backfillrequest\.streaming\.sneaksanddata\.com\/by-an-editor created/);
  });

  it('a user with only the built-in view role can list BackfillRequests but not create them', async () => {
    const user = `viewer-${randomUUID().slice(0, 6)}`;
    await bindUser(user, 'view');
    await waitFor('view to include the backfill-request-viewer role', () =>
      allowed(user, [], backfillRequests('list')),
    );
    assert.equal(await allowed(user, [], backfillRequests('create')), false);
  });

  // Which permissions the operator needs is shown by running it under them (tests/e2e/chart-install.test.ts); what a
  // run cannot show is that the Lease rights stop at the chart's own Lease.
  it('the operator ServiceAccount may write only its own Lease, and only in the release namespace', async () => {
    const account = `system:serviceaccount:${namespace}:arcane-operator`;
    const groups = ['system:serviceaccounts', `system:serviceaccounts:${namespace}`];
    const lease = `${release}-arcane-temporal-watcher`;
    const leases = (verb: string, name?: string, leaseNamespace = namespace) =>
      allowed(account, groups, {
        verb,
        group: 'coordination.k8s.io',
        resource: 'leases',
        namespace: leaseNamespace,
        name,
      });
    assert.deepEqual(
      await Promise.all([leases('create'), leases('get', lease), leases('update', lease)]),
      [true, true, true],
      'create, get and update its Lease',
    );
    assert.deepEqual(
      await Promise.all([leases('update', 'another-lease'), leases('create', undefined, 'elsewhere'), leases('list')]),
      [false, false, false],
      'update another Lease, create one elsewhere, list them',
    );
  });
});
