// The running local stack, as the global setup started it. Tests that need it fail loudly without it.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

export interface StackEnv {
  kubeconfigPath: string;
  temporalAddress: string;
  temporalNamespace: string;
  temporalUiUrl: string;
  logDir: string;
}

export function stackEnv(): StackEnv {
  const file = process.env.ARCANE_TEST_STACK;
  if (!file) {
    throw new Error('ARCANE_TEST_STACK is not set: run integration tests through `npm run test:integration`');
  }
  return JSON.parse(readFileSync(file, 'utf8')) as StackEnv;
}

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(stackEnv().kubeconfigPath);
  return kc;
}
