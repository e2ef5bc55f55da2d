// writeStatus: the stream's status as the lifecycle decided it: phase, configuration hash and one condition, always all
// three (plugin schemas require them), and only when something changed.
import type { StreamKey } from '../resources/stream-key.ts';
import type { ActionOf, ActivityContext } from './context.ts';
import { statusShows } from '../workflows/lifecycle.ts';
import { mergePatch } from '../kubernetes/requests.ts';
import { metav1Now } from './kubernetes.ts';
import { observeStatus } from './observe.ts';
import { requireStream, storedStatus, streamCall, streamLocation } from './stream-resources.ts';

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
  // The same rule as the decision's: only what the stored object can show is compared.
  const unchanged =
    conditions.length === 1 && previous?.status === 'True' && statusShows(observeStatus(status), action);
  if (unchanged) return { written: false };
  // As meta.SetStatusCondition: the transition time moves only when the condition's status does.
  const lastTransitionTime =
    previous?.status === 'True' && typeof previous.lastTransitionTime === 'string'
      ? previous.lastTransitionTime
      : metav1Now();
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
