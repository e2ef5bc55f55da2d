// `arcane stream backfill --wait`: follows the BackfillRequest in Kubernetes, the record of truth, until it is
// completed, deleted or marked Failed, or until the timeout.
import { setTimeout as delay } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiException, CustomObjectsApi } from '../kubernetes/client-node.ts';
import { ARCANE_GROUP, ARCANE_VERSION, BACKFILL_REQUESTS } from '../resources/api-group.ts';
import { oneLine } from './output.ts';

export type BackfillEnd =
  | { outcome: 'completed' }
  | { outcome: 'deleted' }
  | { outcome: 'failed'; message: string }
  | { outcome: 'timedOut'; lastError?: string };

interface StoredRequest {
  spec?: { completed?: boolean };
  status?: { phase?: string; conditions?: { message?: string; reason?: string }[] };
}

/** How often the request is read: completion takes at least a Job's run, so a second is prompt enough. */
const pollIntervalMs = 1_000;

/** What a stored request says about its end, or undefined while it is still open. */
export function requestEnd(request: StoredRequest): BackfillEnd | undefined {
  if (request.spec?.completed === true) return { outcome: 'completed' };
  if (request.status?.phase === 'Failed') {
    const condition = request.status.conditions?.at(-1);
    const message = [condition?.reason, condition?.message].filter(Boolean).join(': ');
    return { outcome: 'failed', message: message || 'marked Failed without a condition' };
  }
  return undefined;
}

export async function waitForBackfill(
  kubeConfig: KubeConfig,
  request: { namespace: string; name: string },
  timeoutMs?: number,
): Promise<BackfillEnd> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const where = { group: ARCANE_GROUP, version: ARCANE_VERSION, plural: BACKFILL_REQUESTS.plural, ...request };
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  let lastError: string | undefined;
  for (;;) {
    try {
      const end = requestEnd((await api.getNamespacedCustomObject(where)) as StoredRequest);
      if (end) return end;
      lastError = undefined;
    } catch (error) {
      if (error instanceof ApiException && (error as ApiException<unknown>).code === 404) return { outcome: 'deleted' };
      // The API server may be briefly unreachable: keep trying until the timeout, which reports the last error.
      lastError = oneLine(error);
    }
    const left = deadline - Date.now();
    if (left <= 0) return { outcome: 'timedOut', lastError };
    await delay(Math.min(pollIntervalMs, left));
  }
}
