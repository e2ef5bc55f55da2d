// Where a process's configuration comes from: flags, then ARCANE_* variables, then the upstream operator's
// ARCANE_OPERATOR__* variables (and Kubernetes' downward-API names), then the schema's defaults. A table of
// settings names each one; the rows every process shares are here.
import type { Command } from 'commander';

export interface Setting {
  /** Path in the configuration object, e.g. `temporal.taskQueue`. */
  path: string;
  help: string;
  /** Short flag name instead of the one derived from the path. */
  flag?: string;
  /** Short ARCANE_* name instead of the one derived from the path. */
  env?: string;
  /** Read only from the environment (never a flag: flags show up in process listings). */
  secret?: boolean;
  /** Further variables, consulted last (upstream Helm chart names, downward API). */
  fallbackEnv?: string[];
}

/** Kubernetes and Temporal connections, probes, metrics and logs: the settings of every process. */
export const processSettings: readonly Setting[] = [
  { path: 'kubernetes.kubeconfig', flag: 'kubeconfig', env: 'ARCANE_KUBECONFIG', help: 'kubeconfig file' },
  { path: 'kubernetes.context', flag: 'context', env: 'ARCANE_KUBE_CONTEXT', help: 'kubeconfig context' },
  { path: 'kubernetes.inCluster', flag: 'in-cluster', env: 'ARCANE_IN_CLUSTER', help: 'use the pod service account' },
  { path: 'temporal.address', help: 'Temporal frontend host:port' },
  { path: 'temporal.namespace', help: 'Temporal namespace (one per Kubernetes cluster)' },
  { path: 'temporal.taskQueue', flag: 'task-queue', env: 'ARCANE_TASK_QUEUE', help: 'task queue of stream workflows' },
  { path: 'temporal.apiKey', secret: true, help: 'Temporal API key' },
  { path: 'temporal.tls.serverName', help: 'TLS server name (setting it turns TLS on)' },
  { path: 'temporal.tls.caFile', help: 'CA bundle (PEM) for the Temporal server certificate' },
  { path: 'temporal.tls.certFile', help: 'client certificate (PEM) for mTLS' },
  { path: 'temporal.tls.keyFile', help: 'client key (PEM) for mTLS' },
  { path: 'health.port', fallbackEnv: ['ARCANE_OPERATOR__PROBES__PORT'], help: 'health probe port' },
  { path: 'health.host', help: 'health probe listen address' },
  {
    path: 'metrics.port',
    fallbackEnv: ['ARCANE_OPERATOR__TELEMETRY__METRICS_PORT', 'ARCANE_OPERATOR__TELEMETRY__METRICSPORT'],
    help: 'Prometheus metrics port',
  },
  { path: 'metrics.host', help: 'metrics listen address' },
  { path: 'log.level', help: 'log level (fatal, error, warn, info, debug, trace, silent)' },
  { path: 'log.pretty', help: 'human-readable logs instead of JSON' },
  {
    path: 'heap.growthPercent',
    help: "how far (percent) a heap may grow past what the last full garbage collection left live; 0: V8's own",
  },
];

function screaming(segment: string): string {
  return segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** `--temporal-task-queue`, without the dashes. */
export function flagName(setting: Setting): string {
  return (
    setting.flag ??
    setting.path
      .replace(/\./g, '-')
      .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
      .toLowerCase()
  );
}

/** Variables naming the setting, most important first. */
export function envNames(setting: Setting): string[] {
  const segments = setting.path.split('.');
  return [
    setting.env ?? `ARCANE_${segments.map(screaming).join('_')}`,
    `ARCANE_OPERATOR__${segments.map(screaming).join('__')}`,
    ...(setting.fallbackEnv ?? []),
  ];
}

function assign(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop() as string;
  let node = target;
  for (const key of keys) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[last] = value;
}

/**
 * The configuration input from flag values (keyed by flag name) and environment variables; unset and empty
 * values are left to the schema's defaults.
 */
export function configFromSources(
  settings: readonly Setting[],
  env: Record<string, string | undefined>,
  flags: Record<string, string | boolean | undefined> = {},
): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const setting of settings) {
    const fromFlag = setting.secret ? undefined : flags[flagName(setting)];
    const fromEnv = envNames(setting)
      .map((name) => env[name])
      .find((value) => value !== undefined && value !== '');
    const value = fromFlag ?? fromEnv;
    if (value !== undefined) assign(config, setting.path, value);
  }
  return config;
}

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Adds a `--<flag> <value>` option per setting (secrets are environment-only). */
export function withSettingOptions(command: Command, settings: readonly Setting[]): Command {
  for (const setting of settings) {
    if (setting.secret) continue;
    command.option(`--${flagName(setting)} <value>`, `${setting.help} (env ${envNames(setting)[0]})`);
  }
  const secrets = settings.filter((s) => s.secret).map((s) => envNames(s)[0]);
  if (secrets.length > 0)
    command.addHelpText('after', `\nSecrets are read from the environment only: ${secrets.join(', ')}.`);
  return command;
}

/** The configuration input from a parsed command's options and the environment. */
export function settingsInput(
  command: Command,
  settings: readonly Setting[],
  env: Record<string, string | undefined>,
): Record<string, unknown> {
  const options = command.opts<Record<string, string | undefined>>();
  const flags = Object.fromEntries(settings.map((s) => [flagName(s), options[camelCase(flagName(s))]]));
  return configFromSources(settings, env, flags);
}
