// A real Kubernetes control plane on loopback: etcd, kube-apiserver (TLS + token), controller-manager,
// scheduler, and kwok with one schedulable fake node.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { Toolchain } from './toolchain.ts';
import { freePort } from '../operations/ports.ts';
import { jobAuditArgs } from './job-audit.ts';
import { distinctPorts, launch, startOnFreshPorts, type ManagedProcess } from './process.ts';

export interface ControlPlane {
  kubeconfigPath: string;
  server: string;
  processes: Record<'etcd' | 'apiserver' | 'controllerManager' | 'scheduler' | 'kwok', ManagedProcess>;
  /** The Prometheus text kube-apiserver serves on `/metrics` (request counts by verb and resource, among others). */
  apiserverMetrics(): Promise<string>;
  /** The Prometheus text of the controller-manager and of the scheduler (their client-go request metrics). */
  controllerMetrics(): Promise<{ controllerManager: string; scheduler: string }>;
  /** Restarts kube-apiserver on the same port and data, e.g. to test watch recovery. */
  restartApiserver(): Promise<void>;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  tools: Toolchain;
  dir: string;
  logDir: string;
  /** Client-side request rate of the controller-manager and the scheduler; CONTROLLER_API_QPS by default. */
  controllerApiQps?: number;
  /** Picks each port (a free loopback port by default). */
  pickPort?: () => Promise<number>;
}

/**
 * client-go's default of 20 requests/s (burst 30) made the Job controller, not the operator under test, set the pace
 * (about 2.5 streams/s). The benchmark checked that raising this further changes nothing (bench/results.md).
 */
export const CONTROLLER_API_QPS = 10_000;

export const fakeNodeName = 'kwok-node-0';

function get(url: string, token: string, ca?: Buffer, timeout = 2_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: { authorization: `Bearer ${token}` }, ca, rejectUnauthorized: ca !== undefined, timeout },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout on ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

function writeKubeconfig(path: string, server: string, ca: Buffer, token: string): void {
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': ca.toString('base64') } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user: 'admin' } }],
    'current-context': 'local',
  };
  // JSON is valid YAML, and every kubeconfig reader accepts it.
  writeFileSync(path, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
}

type Start = (name: string, binary: string, args: string[]) => ManagedProcess;

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const once = async () => {
    const started: ManagedProcess[] = [];
    const start: Start = (name, binary, args) => {
      const proc = launch(name, binary, args, { logDir: options.logDir });
      started.push(proc);
      return proc;
    };
    try {
      return await bringUp(options, start);
    } catch (error) {
      // A half-started control plane must not outlive the failed start.
      await Promise.all(started.map((proc) => proc.stop()));
      throw error;
    }
  };
  return startOnFreshPorts(once, {
    // The failure names the process's last log lines: a port taken between picking and binding is worth a new start
    // on other ports, from a fresh etcd and certificates.
    portTaken: (error) => /address already in use/.test(String(error)),
    beforeNext: () => {
      for (const state of ['etcd', 'pki', 'job-audit.log']) {
        rmSync(join(options.dir, state), { recursive: true, force: true });
      }
    },
  });
}

async function bringUp(options: ControlPlaneOptions, start: Start): Promise<ControlPlane> {
  const { tools, dir, logDir } = options;
  const pick = options.pickPort ?? freePort;
  const pki = join(dir, 'pki');
  mkdirSync(pki, { recursive: true });
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(pki, 'tokens.csv'), `${token},admin,admin,system:masters\n`, { mode: 0o600 });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(pki, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(pki, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

  const [etcdClient, etcdPeer, apiPort, etcdMetrics, controllerManagerPort, schedulerPort] = (await distinctPorts(
    pick,
    6,
  )) as [number, number, number, number, number, number];
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const etcd = start('etcd', tools.etcd, [
    '--data-dir',
    join(dir, 'etcd'),
    '--name',
    'local',
    '--listen-client-urls',
    etcdUrl,
    '--advertise-client-urls',
    etcdUrl,
    '--listen-peer-urls',
    `http://127.0.0.1:${etcdPeer}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster',
    `local=http://127.0.0.1:${etcdPeer}`,
    '--listen-metrics-urls',
    `http://127.0.0.1:${etcdMetrics}`,
    '--log-level',
    'warn',
    '--unsafe-no-fsync', // a throwaway test cluster; fsync on shared disks makes every write slow
  ]);
  await etcd.waitUntil('healthy', async () => (await fetch(`${etcdUrl}/health`)).ok);

  const server = `https://127.0.0.1:${apiPort}`;
  const apiserverArgs = [
    '--etcd-servers',
    etcdUrl,
    '--advertise-address',
    '127.0.0.1',
    '--bind-address',
    '127.0.0.1',
    '--secure-port',
    String(apiPort),
    '--cert-dir',
    pki, // the apiserver writes a self-signed CA and serving cert for 127.0.0.1 here
    '--token-auth-file',
    join(pki, 'tokens.csv'),
    '--authorization-mode',
    'Node,RBAC',
    '--service-account-issuer',
    'https://kubernetes.default.svc',
    '--service-account-key-file',
    join(pki, 'sa.pub'),
    '--service-account-signing-key-file',
    join(pki, 'sa.key'),
    '--service-cluster-ip-range',
    '10.0.0.0/24',
    '--disable-admission-plugins',
    'ServiceAccount,TaintNodesByCondition', // no node lifecycle controller would lift the not-ready taint
    '--enable-priority-and-fairness=false',
    // A burst of 1,000 streams sends more requests at once than the defaults (400, 200) admit; a 429 would slow the
    // operator down for the stack's sake.
    '--max-requests-inflight',
    '4000',
    '--max-mutating-requests-inflight',
    '2000',
    '--profiling=false',
    ...jobAuditArgs(dir, server),
  ];
  let apiserver = start('kube-apiserver', tools.kubeApiserver, apiserverArgs);
  const waitApiserverReady = (proc: ManagedProcess) =>
    proc.waitUntil('readyz', async () => (await get(`${server}/readyz`, token)).status === 200, 120_000);
  await waitApiserverReady(apiserver);
  const ca = readFileSync(join(pki, 'apiserver.crt'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfigPath, server, ca, token);

  // What the controller-manager and the scheduler share: the cluster, one replica, a private loopback port whose
  // /metrics anyone may read (it shows whether their client-side rate limiter held requests back), and a request rate
  // that never makes them the bottleneck.
  const qps = options.controllerApiQps ?? CONTROLLER_API_QPS;
  const controllerPorts = { controllerManager: controllerManagerPort, scheduler: schedulerPort };
  const controllerArgs = (port: number) => [
    '--kubeconfig',
    kubeconfigPath,
    '--leader-elect=false',
    '--secure-port',
    String(port),
    '--bind-address',
    '127.0.0.1',
    '--authorization-always-allow-paths',
    '/healthz,/readyz,/livez,/metrics',
    '--kube-api-qps',
    String(qps),
    '--kube-api-burst',
    String(qps * 2),
  ];
  const controllerManager = start('kube-controller-manager', tools.kubeControllerManager, [
    ...controllerArgs(controllerPorts.controllerManager),
    '--root-ca-file',
    join(pki, 'apiserver.crt'),
    '--service-account-private-key-file',
    join(pki, 'sa.key'),
    // fake nodes send no heartbeats worth trusting: no node lifecycle taints or evictions
    '--controllers',
    '*,-nodelifecycle,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
    '--concurrent-job-syncs',
    '20',
  ]);
  const scheduler = start('kube-scheduler', tools.kubeScheduler, controllerArgs(controllerPorts.scheduler));
  const kwok = start('kwok', tools.kwok, [
    '--kubeconfig',
    kubeconfigPath,
    '--manage-all-nodes=true',
    '--config',
    join(import.meta.dirname, 'kwok-stages.yaml'),
    '--node-lease-duration-seconds',
    '0',
  ]);
  await addFakeNode(kubeconfigPath, tools.kubectl, logDir);

  const processes = { etcd, apiserver, controllerManager, scheduler, kwok };
  return {
    kubeconfigPath,
    server,
    get processes() {
      return { ...processes, apiserver };
    },
    async apiserverMetrics() {
      const { status, body } = await get(`${server}/metrics`, token, ca, 30_000);
      if (status !== 200) throw new Error(`kube-apiserver /metrics answered ${status}`);
      return body;
    },
    async controllerMetrics() {
      // Their serving certificates are self-signed; the figures are not secret and stay on loopback.
      const read = async (port: number) => {
        const { status, body } = await get(`https://127.0.0.1:${port}/metrics`, token, undefined, 30_000);
        if (status !== 200) throw new Error(`/metrics on port ${port} answered ${status}`);
        return body;
      };
      const [controllerManager, scheduler] = await Promise.all([
        read(controllerPorts.controllerManager),
        read(controllerPorts.scheduler),
      ]);
      return { controllerManager, scheduler };
    },
    async restartApiserver() {
      await apiserver.stop();
      apiserver = start('kube-apiserver', tools.kubeApiserver, apiserverArgs);
      await waitApiserverReady(apiserver);
    },
    async stop() {
      await Promise.all([kwok.stop(), scheduler.stop(), controllerManager.stop()]);
      await apiserver.stop();
      await etcd.stop();
    },
  };
}

async function addFakeNode(kubeconfigPath: string, kubectl: string, logDir: string): Promise<void> {
  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: fakeNodeName,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': fakeNodeName, 'kubernetes.io/os': 'linux', type: 'kwok' },
    },
  };
  const manifest = join(logDir, '..', 'fake-node.json');
  writeFileSync(manifest, JSON.stringify(node));
  const apply = launch('kubectl-apply-node', kubectl, ['--kubeconfig', kubeconfigPath, 'apply', '-f', manifest], {
    logDir,
  });
  const code = await apply.exited;
  if (code !== 0) throw new Error(`creating the fake node failed:\n${apply.tail()}`);
  const ready = launch(
    'kubectl-wait-node',
    kubectl,
    ['--kubeconfig', kubeconfigPath, 'wait', '--for=condition=Ready', `node/${fakeNodeName}`, '--timeout=60s'],
    { logDir },
  );
  if ((await ready.exited) !== 0) throw new Error(`the fake node never became Ready:\n${ready.tail()}`);
}
