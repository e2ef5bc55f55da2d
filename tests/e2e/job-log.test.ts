// The Job log the end-to-end tests count duplicates with loses no Job: one created and deleted again while its watch
// had lost its place (the API server restarted, so resuming answers 410 Gone) is still logged, created and deleted.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../stack/kubernetes.ts';
import { toolchain } from '../../stack/toolchain.ts';
import { waitFor } from '../../stack/wait.ts';
import { JobLog } from './job-log.ts';

const namespace = 'job-log';
let dir: string;
let plane: ControlPlane | undefined;
let kubeConfig: KubeConfig;
let passed = false;

/** A Job that never starts a pod: only its coming and going matters here. */
const suspendedJob = (name: string): V1Job => ({
  metadata: { name },
  spec: {
    suspend: true,
    template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.37' }] } },
  },
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arcane-job-log-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  plane = await startControlPlane({ tools: toolchain(), dir, logDir });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(plane.kubeconfigPath);
  await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
});

after(async () => {
  await plane?.stop();
  if (passed) rmSync(dir, { recursive: true, force: true });
  else console.log(`control plane folder kept: ${dir}`);
});

it('logs a Job created and deleted while its watch had lost its place, and the deletions it missed', async (t) => {
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  const log = await JobLog.start(t, kubeConfig, namespace);
  await batch.createNamespacedJob({ namespace, body: suspendedJob('steady') });
  await batch.createNamespacedJob({ namespace, body: suspendedJob('brief') });
  await batch.deleteNamespacedJob({ namespace, name: 'brief', propagationPolicy: 'Background' });
  const [brief] = await log.of('brief');
  const [steady] = await log.of('steady');
  assert.ok(steady && brief, 'the watch logs Jobs while it runs');
  assert.ok(brief.deletedAt !== undefined && steady.createdAt < brief.createdAt && brief.createdAt < brief.deletedAt);

  await log.interrupt(async () => {
    await batch.createNamespacedJob({ namespace, body: suspendedJob('ghost') });
    await batch.deleteNamespacedJob({ namespace, name: 'ghost', propagationPolicy: 'Background' });
    await batch.deleteNamespacedJob({ namespace, name: 'steady', propagationPolicy: 'Background' });
    // A new API server's watch cache starts after these writes: the old position is gone.
    await plane!.restartApiserver();
  });
  await waitFor('the resumed watch to be refused (410 Gone) and the log to list again', () => log.relists >= 1, {
    timeoutMs: 30_000,
  });
  const listed = await batch.listNamespacedJob({ namespace });
  assert.deepEqual(listed.items, [], 'no list could show them any more');

  const [ghost, ...more] = await log.of('ghost');
  assert.ok(ghost, 'the Job that came and went in the gap is logged');
  assert.deepEqual(more, []);
  assert.ok(ghost.deletedAt !== undefined && ghost.createdAt < ghost.deletedAt, 'created, then deleted');
  assert.ok(steady.deletedAt !== undefined && steady.createdAt < steady.deletedAt, 'its deletion in the gap too');
  assert.ok(brief.deletedAt < ghost.createdAt, 'in the order of the writes');

  await batch.createNamespacedJob({ namespace, body: suspendedJob('later') });
  const [later] = await log.of('later');
  assert.ok(later && later.createdAt > ghost.deletedAt, 'the watch goes on after the gap, in order');
  passed = true;
});
