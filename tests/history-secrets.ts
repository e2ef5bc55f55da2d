// Searches the workflow histories a Temporal server holds for secret values: the recorded ones and, at the end of a
// test run, every history the run produced, so that code which lets a secret into Temporal fails the tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { connectClient, temporalSettingsSchema } from '../client/connection.ts';
import { historyText, secretsIn } from './history-payloads.ts';

/** The values of the test plugin's Secret, which every test namespace gets (tests/fixtures/plugin/secret.yaml). */
export function testPluginSecretValues(): string[] {
  const file = join(import.meta.dirname, 'fixtures/plugin/secret.yaml');
  const [secret] = loadAllYaml(readFileSync(file, 'utf8')) as { stringData: Record<string, string> }[];
  return Object.values(secret?.stringData ?? {});
}

/**
 * Everything Temporal keeps of one workflow run, decoded: its history (inputs, results, signals, updates, memo,
 * search attributes, failure messages) and its description (pending activities' heartbeats and last failures).
 */
export async function runText(client: Client, workflowId: string, runId?: string): Promise<string> {
  const handle = client.workflow.getHandle(workflowId, runId);
  const history = historyToJSON(await handle.fetchHistory());
  const { raw } = await handle.describe();
  return `${historyText(history)}\n${historyText(JSON.stringify(raw))}`;
}

/** The runs matching `query` (all of the namespace by default) whose text holds any of `secrets`, named for a person. */
export async function runsHoldingSecrets(client: Client, secrets: readonly string[], query?: string) {
  const found: string[] = [];
  let searched = 0;
  for await (const run of client.workflow.list({ query })) {
    searched++;
    const shown = secretsIn(await runText(client, run.workflowId, run.runId), secrets);
    if (shown.length > 0) found.push(`${run.workflowId} (run ${run.runId}): ${shown.length} secret value(s)`);
  }
  return { searched, found };
}

/**
 * At the end of a test run, before its Temporal server stops: searches every workflow run it holds for the test
 * plugin's Secret values, and fails the run (exit code 1, naming the runs, never the values) if any holds one.
 */
export async function failRunOnSecretsInHistories(temporal: { address: string; namespace: string }): Promise<void> {
  try {
    const { address, namespace } = temporal;
    const client = await connectClient(temporalSettingsSchema.parse({ address, namespace }));
    const { searched, found } = await runsHoldingSecrets(client, testPluginSecretValues()).finally(() =>
      client.connection.close(),
    );
    if (found.length === 0) {
      console.log(`no test plugin Secret value in any of the ${searched} workflow runs of this test run`);
      return;
    }
    console.error(`a test plugin Secret value reached Temporal in ${found.length} of ${searched} runs:`);
    for (const run of found) console.error(`  ${run}`);
  } catch (error) {
    // Unchecked is not clean: say why, and let the stack stop all the same.
    console.error(`the run's workflow histories could not be searched for secret values: ${String(error)}`);
  }
  process.exitCode = 1;
}
