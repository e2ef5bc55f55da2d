// setSuspended: the `suspend` and `resume` updates change the stream itself, so Kubernetes stays the one source of
// truth. Only the suspended key is merge-patched; no other spec key, label or annotation is touched or added.
import type { StreamKey } from '../resources/stream-key.ts';
import type { ActivityContext } from './context.ts';
import { rejected } from './errors.ts';
import { mergePatch } from '../kubernetes/requests.ts';
import { requireStream, streamCall, streamLocation } from './stream-resources.ts';

type Spec = Record<string, unknown> & { execution?: Record<string, unknown> | null };

/** Where the layout keeps `suspended`: `spec.suspended` (v0) or `spec.execution.suspended` (v1, v2). */
function suspendedHolder(spec: Spec): { holder: Record<string, unknown>; inExecution: boolean } {
  const layout = spec.execution?.layoutVersion;
  if (layout === undefined || layout === null || layout === '') return { holder: spec, inExecution: false };
  if ((layout === 'v1' || layout === 'v2') && spec.execution) return { holder: spec.execution, inExecution: true };
  const field = 'spec.execution.layoutVersion';
  const message = `${field} is ${JSON.stringify(layout)}, not one of "", "v1", "v2": cannot tell where suspended is`;
  throw rejected({ reason: 'InvalidSpec', field, message });
}

export async function setSuspended(
  context: ActivityContext,
  stream: StreamKey,
  suspended: boolean,
): Promise<{ changed: boolean }> {
  const { kube, log } = context;
  const { streamClass, stored } = await requireStream(kube, stream);
  const spec = (typeof stored.spec === 'object' && stored.spec !== null ? stored.spec : {}) as Spec;
  const { holder, inExecution } = suspendedHolder(spec);
  // Absent means not suspended, as the resource model reads it.
  if ((holder.suspended ?? false) === suspended) return { changed: false };
  const body = { spec: inExecution ? { execution: { suspended } } : { suspended } };
  await kube.call(streamCall(streamClass, stream, 'patch'), () =>
    kube.custom.patchNamespacedCustomObject({ ...streamLocation(streamClass, stream), body }, mergePatch),
  );
  log.info({ suspended }, `set ${inExecution ? 'spec.execution.suspended' : 'spec.suspended'}`);
  return { changed: true };
}
