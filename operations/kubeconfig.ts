// The Kubernetes connection of a process: a kubeconfig file, the pod's service account, or the usual defaults.
import { KubeConfig } from '../kubernetes/client-node.ts';

export function loadKubeConfig(settings: { kubeconfig?: string; context?: string; inCluster: boolean }): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (settings.inCluster) kubeConfig.loadFromCluster();
  else if (settings.kubeconfig) kubeConfig.loadFromFile(settings.kubeconfig);
  else kubeConfig.loadFromDefault();
  if (settings.context) kubeConfig.setCurrentContext(settings.context);
  return kubeConfig;
}
