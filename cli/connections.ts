// The Temporal and Kubernetes connections of the `arcane` commands, from the same flags and ARCANE_* variables as
// the operator's processes, checked before anything is contacted.
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { KubeConfig } from '@kubernetes/client-node';
import { connectClient, temporalSettingsSchema } from '../client/connection.ts';
import { kubernetesSchema, parseConfig } from '../operations/config-schema.ts';
import { loadKubeConfig } from '../operations/kubeconfig.ts';
import { processSettings, settingsInput, withSettingOptions, type Setting } from '../operations/settings.ts';

const temporalRows = processSettings.filter((setting) => setting.path.startsWith('temporal.'));
const kubernetesRows = processSettings.filter((setting) => setting.path.startsWith('kubernetes.'));

export function withTemporalOptions(command: Command): Command {
  return withSettingOptions(command, temporalRows);
}

export function withKubernetesOptions(command: Command): Command {
  return withSettingOptions(command, kubernetesRows);
}

function section(command: Command, rows: readonly Setting[], env: NodeJS.ProcessEnv, name: string): unknown {
  return settingsInput(command, rows, env)[name];
}

/** Connects to Temporal; the settings are checked first (a ConfigError, exit 2, names each bad one). */
export function temporalConnector(command: Command, env: NodeJS.ProcessEnv): () => Promise<Client> {
  const settings = parseConfig('temporal', temporalSettingsSchema, section(command, temporalRows, env, 'temporal'));
  return () =>
    connectClient(settings).catch((error: unknown) => {
      throw new Error(`cannot reach Temporal at ${settings.address} (namespace ${settings.namespace})`, {
        cause: error,
      });
    });
}

/** The kubeconfig named by the flags or variables, else $KUBECONFIG, ~/.kube/config, or the pod's account. */
export function kubeConfigFrom(command: Command, env: NodeJS.ProcessEnv): KubeConfig {
  const settings = parseConfig('kubernetes', kubernetesSchema, section(command, kubernetesRows, env, 'kubernetes'));
  return loadKubeConfig(settings);
}

/** Runs `use` with a connected client and always closes the connection. */
export async function withClient<T>(connect: () => Promise<Client>, use: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect();
  try {
    return await use(client);
  } finally {
    await client.connection.close();
  }
}
