// The upstream Go Arcane operator (github.com/SneaksAndData/arcane-operator), built by tools/provision.sh, run on a
// local stack so the benchmark can put it side by side with this operator. It reads appconfig.yaml from its working
// folder, so it runs in its Go module's folder; its listeners move to free loopback ports through its environment.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { freePort } from '../operations/ports.ts';
import { launch, type ManagedProcess } from '../stack/process.ts';
import { cacheDir } from '../stack/toolchain.ts';
import { launchedPid, processMemory, type Memory } from './measure.ts';
import type { TestPlugin } from '../tests/fixtures/plugins.ts';

const TOOLS_MODULE = join(import.meta.dirname, '../tools/arcane-operator/go.mod');

/** The upstream version the tools module requires: the one place that pins it. */
export function upstreamVersion(): string {
  const version = /github\.com\/SneaksAndData\/arcane-operator (v\S+)/.exec(readFileSync(TOOLS_MODULE, 'utf8'))?.[1];
  if (!version) throw new Error(`${TOOLS_MODULE} requires no github.com/SneaksAndData/arcane-operator`);
  return version;
}

/** Where tools/provision.sh puts the binary, and the link to the module's folder it runs in. */
export function upstreamInstall(): { binary: string; moduleDir: string } {
  const dir = join(cacheDir(), `arcane-operator-${upstreamVersion()}`);
  const install = { binary: join(dir, 'bin', 'arcane-operator'), moduleDir: join(dir, 'module') };
  if (!existsSync(install.binary) || !existsSync(join(install.moduleDir, 'appconfig.yaml'))) {
    throw new Error(`the upstream operator is not built in ${dir}: run \`npm run stack:provision\` first`);
  }
  return install;
}

/**
 * Why upstream cannot run a test plugin's streams, or undefined when it can. It reads a template reference without a
 * namespace as one in the empty namespace ("/standard-job-template"), and layout-v1 streams (the production-shaped
 * plugin's) name their templates that way: none of them would ever run, and the bench would wait out its deadline.
 */
export function upstreamCannotRun(plugin: Pick<TestPlugin, 'layout'>): string | undefined {
  if (plugin.layout.name !== 'v1') return undefined;
  return 'upstream cannot run layout-v1 streams: it reads their template references, which name no namespace, as in the empty namespace';
}

export interface UpstreamOperator {
  memory(): Memory;
  /** The Prometheus text upstream serves (controller-runtime's, with client-go's `rest_client_requests_total`). */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts upstream against the cluster and waits until it has taken up `streamClass` (its status phase Ready). */
export async function startUpstream(
  kubeConfig: KubeConfig,
  kubeconfigPath: string,
  logDir: string,
  streamClass: string,
): Promise<UpstreamOperator> {
  const { binary, moduleDir } = upstreamInstall();
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  const env = {
    ...process.env,
    KUBECONFIG: kubeconfigPath,
    // appconfig.yaml binds :8888 and :9090 on every interface; viper lets the environment override each key.
    ARCANE_OPERATOR__PROBES__ADDR: `127.0.0.1:${await freePort()}`,
    ARCANE_OPERATOR__TELEMETRY__METRICS_BIND_ADDRESS: metricsAddress,
  };
  const proc: ManagedProcess = launch('arcane-operator-upstream', binary, [], { logDir, env, cwd: moduleDir });
  try {
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    await proc.waitUntil('StreamClass Ready', async () => {
      const stored = (await custom.getClusterCustomObject({
        group: 'streaming.sneaksanddata.com',
        version: 'v1',
        plural: 'streamclasses',
        name: streamClass,
      })) as { status?: { phase?: string } };
      return stored.status?.phase === 'Ready';
    });
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return {
    memory: () => processMemory(launchedPid(requirePid(proc))),
    async metrics() {
      const response = await fetch(`http://${metricsAddress}/metrics`);
      if (!response.ok) throw new Error(`upstream's /metrics answered ${response.status}`);
      return response.text();
    },
    stop: () => proc.stop(),
  };
}

function requirePid(proc: ManagedProcess): number {
  if (!proc.running || proc.pid === undefined) throw new Error(`the upstream operator exited:\n${proc.tail(20)}`);
  return proc.pid;
}
