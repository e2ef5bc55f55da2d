// writeStatus: the stream's status as the lifecycle decided it: phase, configuration hash and one condition, always all
// three (plugin schemas require them), and only when something changed.
import type { StreamKey } from '../workflows/messages.ts';
import type { ActionOf, ActivityContext } from './context.ts';
import { mergePatch } from './kubernetes.ts';
import { requireStream, storedStatus, streamCall, streamLocation } from './stream-resources.ts';

/** Now as metav1.Time writes it: RFC 3339 in whole seconds. */
function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export async function writeStatus(
  context: ActivityContext,
  stream: StreamKey,
  action: ActionOf<'writeStatus'>,
): Promise<{ written: boolean }> {
  const { kube, log } = context;
  const { streamClass, stored } = await requireStream(kube, stream);
  const status = storedStatus(stored);
  const { conditions } = status;
  const previous = conditions.find((condition) => condition.type === action.conditionType);
  const unchanged =
    status.phase === action.phase &&
    status.configurationHash === action.configurationHash &&
    conditions.length === 1 &&
    previous?.status === 'True' &&
    previous.reason === action.reason &&
    previous.message === action.message &&
    previous.observedGeneration === action.observedGeneration;
  if (unchanged) return { written: false };
  // As meta.SetStatusCondition: the transition time moves only when the condition's status does.
  const lastTransitionTime =
    previous?.status === 'True' && typeof previous.lastTransitionTime === 'string'
      ? previous.lastTransitionTime
      : now();
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
