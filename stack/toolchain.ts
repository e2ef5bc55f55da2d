// Where the provisioned binaries live: the per-user cache keyed by the versions in tools/versions.env.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

export interface Toolchain {
  temporal: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  helm: string;
}

function versions(): Record<string, string> {
  const entries = readFileSync(join(root, 'tools', 'versions.env'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => line.split('=', 2) as [string, string]);
  return Object.fromEntries(entries);
}

export function cacheDir(): string {
  return process.env.ARCANE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'arcane-temporal');
}

export function toolchain(): Toolchain {
  const v = versions();
  const bin = (folder: string, name: string) => join(cacheDir(), folder, 'bin', name);
  const tools: Toolchain = {
    temporal: bin(`temporal-cli-v${v.TEMPORAL_CLI_VERSION}`, 'temporal'),
    etcd: bin(`etcd-v${v.ETCD_VERSION}`, 'etcd'),
    kubeApiserver: bin(`k8s-v${v.KUBERNETES_VERSION}`, 'kube-apiserver'),
    kubeControllerManager: bin(`k8s-v${v.KUBERNETES_VERSION}`, 'kube-controller-manager'),
    kubeScheduler: bin(`k8s-v${v.KUBERNETES_VERSION}`, 'kube-scheduler'),
    kubectl: bin(`k8s-v${v.KUBERNETES_VERSION}`, 'kubectl'),
    kwok: bin(`kwok-v${v.KWOK_VERSION}`, 'kwok'),
    helm: bin(`helm-v${v.HELM_VERSION}`, 'helm'),
  };
  const missing = (Object.values(tools) as string[]).filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(`stack binaries missing (${missing.join(', ')}): run \`npm run stack:provision\` first`);
  }
  return tools;
}
