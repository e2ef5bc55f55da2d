// writeStatus: the stream's status as the lifecycle decided it: phase, configuration hash and one condition, always all
// three (plugin schemas require them), and only when something changed.
import {
  PRUNED_BY_PLUGINS,
  statusShows,
  transitionTime,
  type ShownStatus,
  type StatusWrite,
} from '../resources/status-write.ts';
import type { StreamKey } from '../resources/stream-key.ts';
import { readStoredStatus, type StoredStatus } from '../resources/stream-status.ts';
import type { ActionOf, ActivityContext } from './context.ts';
import { statusWriteOf } from '../workflows/lifecycle.ts';
import { mergePatch } from '../kubernetes/requests.ts';
import { metav1Now } from './kubernetes.ts';
import { observeStatus } from './observe.ts';
import { requireStream, streamCall, streamLocation } from './stream-resources.ts';

/**
 * The stored status as the decision saw it (observeStatus), plus the condition's status, which observing does not
 * read. The patch replaces the whole conditions list, so a list of more than one condition always changes.
 */
function shownBeforeWrite(status: StoredStatus): ShownStatus {
  const observed = observeStatus(status);
  const only = status.conditions.length === 1 ? status.conditions[0] : undefined;
  return { ...observed, condition: only && observed.condition && { ...observed.condition, status: only.status } };
}

/** The write this activity makes: the decision's, with the condition's status True. */
function writtenBy(action: ActionOf<'writeStatus'>): StatusWrite {
  const write = statusWriteOf(action);
  return { ...write, condition: { ...write.condition, status: 'True' } };
}

export async function writeStatus(
  context: ActivityContext,
  stream: StreamKey,
  action: ActionOf<'writeStatus'>,
): Promise<{ written: boolean }> {
  const { kube, log } = context;
  const { streamClass, stored } = await requireStream(kube, stream);
  const status = readStoredStatus(stored.status);
  const { conditions } = status;
  const previous = conditions.find((condition) => condition.type === action.conditionType);
  if (statusShows(shownBeforeWrite(status), writtenBy(action), PRUNED_BY_PLUGINS)) return { written: false };
  const lastTransitionTime = transitionTime(previous, 'True', metav1Now());
  const condition = {
    type: action.conditionType,
    status: 'True',
    reason: action.reason,
    message: action.message,
    lastTransitionTime,
    observedGeneration: action.observedGeneration,
  };
  // A merge patch replaces the whole conditions list: exactly this one condition remains.
  const body = {
    status: { phase: action.phase, configurationHash: action.configurationHash, conditions: [condition] },
  };
  await kube.call(streamCall(streamClass, stream, 'patch', true), () =>
    kube.custom.patchNamespacedCustomObjectStatus({ ...streamLocation(streamClass, stream), body }, mergePatch),
  );
  log.info({ phase: action.phase, reason: action.reason }, 'wrote stream status');
  return { written: true };
}
