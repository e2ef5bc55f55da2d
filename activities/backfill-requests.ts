// BackfillRequests: the initial request of a new stream, completing a request, and the `backfill` update. Names are
// deterministic (chosen by the workflow), so a retried create finds its own request instead of making a second one.
import type { JsonObject } from '../resources/go-json.ts';
import { newBackfillRequest } from '../resources/backfill-request.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import type { BackfillUpdateResult } from '../workflows/messages.ts';
import type { ActionOf, ActivityContext } from './context.ts';
import { ActionSkipped, isAlreadyExists, isNotFound } from './errors.ts';
import { mergePatch } from '../kubernetes/requests.ts';
import { metav1Now, type KubernetesApi } from './kubernetes.ts';
import { backfillRequestCall, listBackfillRequests, requestLocation } from './stream-resources.ts';

/** Creates the open request unless one of that name exists; true when this call created it. */
async function createRequest(
  kube: KubernetesApi,
  stream: StreamKey,
  name: string,
  payload?: JsonObject,
): Promise<boolean> {
  const body = newBackfillRequest(stream, name, payload);
  try {
    await kube.call(backfillRequestCall('create', stream.namespace, name), () =>
      kube.custom.createNamespacedCustomObject({ ...requestLocation, namespace: stream.namespace, body }),
    );
    return true;
  } catch (error) {
    if (isAlreadyExists(error)) return false;
    throw error;
  }
}

export async function createBackfillRequest(
  context: ActivityContext,
  stream: StreamKey,
  action: ActionOf<'createBackfillRequest'>,
): Promise<{ created: boolean }> {
  const created = await createRequest(context.kube, stream, action.name);
  if (created) context.log.info({ request: action.name }, 'created the initial BackfillRequest');
  return { created };
}

export async function completeBackfillRequest(
  context: ActivityContext,
  stream: StreamKey,
  action: ActionOf<'completeBackfillRequest'>,
): Promise<{ completed: true }> {
  const { kube, log } = context;
  const { name } = action;
  try {
    // An unchanged merge patch is a no-op for the API server: a retry does not bump the resourceVersion.
    await kube.call(backfillRequestCall('patch', stream.namespace, name), () =>
      kube.custom.patchNamespacedCustomObject(
        { ...requestLocation, namespace: stream.namespace, name, body: { spec: { completed: true } } },
        mergePatch,
      ),
    );
  } catch (error) {
    if (isNotFound(error)) throw new ActionSkipped('BackfillRequestNotFound', `BackfillRequest ${name} is gone`);
    throw error;
  }
  log.info({ request: name }, 'marked the BackfillRequest completed');
  return { completed: true };
}

/** A request the stream cannot run: status phase Failed with the reason, left not completed (kubectl-arcane and people
 * see why; the lifecycle passes over it from then on). */
export async function refuseBackfillRequest(
  context: ActivityContext,
  stream: StreamKey,
  action: ActionOf<'refuseBackfillRequest'>,
): Promise<{ refused: true }> {
  const { kube, log } = context;
  const { name, reason, message } = action;
  const condition = { type: 'Error', status: 'True', reason, message, lastTransitionTime: metav1Now() };
  try {
    await kube.call(backfillRequestCall('patch', stream.namespace, name), () =>
      kube.custom.patchNamespacedCustomObjectStatus(
        {
          ...requestLocation,
          namespace: stream.namespace,
          name,
          body: { status: { phase: 'Failed', conditions: [condition] } },
        },
        mergePatch,
      ),
    );
  } catch (error) {
    if (isNotFound(error)) throw new ActionSkipped('BackfillRequestNotFound', `BackfillRequest ${name} is gone`);
    throw error;
  }
  log.info({ request: name, reason }, 'refused the BackfillRequest');
  return { refused: true };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface BackfillInput {
  /** The name to create the request under when none is open; deterministic, from the workflow. */
  name: string;
  /** Kept as `spec.payload`. */
  payload?: Record<string, unknown>;
}

/** The `backfill` update: the oldest open request of the stream if there is one (clients expect at most one), else a
 * new one named `name`. */
export async function requestBackfill(
  context: ActivityContext,
  stream: StreamKey,
  input: BackfillInput,
): Promise<BackfillUpdateResult> {
  const { kube, log } = context;
  const open = (await listBackfillRequests(kube, stream))
    .filter((request) => !request.completed)
    .sort((a, b) => compare(a.createdAt, b.createdAt) || compare(a.name, b.name));
  const oldest = open[0];
  // A retry finds the request its first attempt created: still "created" by this update.
  if (oldest) return { name: oldest.name, created: oldest.name === input.name };
  await createRequest(kube, stream, input.name, input.payload as JsonObject | undefined);
  log.info({ request: input.name }, 'created a BackfillRequest for the backfill update');
  return { name: input.name, created: true };
}
