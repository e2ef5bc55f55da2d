// recordEvent: a core/v1 Event on the stream (written by kubernetes/events.ts), as upstream's recorder writes them.
// One Event per distinct (stream, type, reason, message), its count bumped when it recurs; a retried activity is the
// same occurrence and bumps nothing.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { StreamKey } from '../resources/stream-key.ts';
import type { ActionOf, ActivityContext } from './context.ts';
import { isAlreadyExists } from './errors.ts';
import { writeEvent } from '../kubernetes/events.ts';
import { mergePatch } from '../kubernetes/requests.ts';
import { requireStream, type StoredStream } from './stream-resources.ts';

/** On an Event: the last occurrence counted, so a retry of the same occurrence is recognised. */
const OCCURRENCE_ANNOTATION = 'arcane.sneaksanddata.com/occurrence';
const MAX_NAME_LENGTH = 253;

/** `<stream>.<16 hex>`: the same note on the same stream incarnation always has the same name. */
function eventName(stored: StoredStream, action: ActionOf<'recordEvent'>): string {
  const hash = createHash('sha256')
    .update([stored.metadata.uid, action.eventType, action.reason, action.message].join('\0'))
    .digest('hex')
    .slice(0, 16);
  return `${stored.metadata.name.slice(0, MAX_NAME_LENGTH - hash.length - 1)}.${hash}`;
}

export async function recordEvent(
  context: ActivityContext,
  stream: StreamKey,
  action: ActionOf<'recordEvent'>,
): Promise<{ name: string; count: number }> {
  const { kube, log } = context;
  const { stored } = await requireStream(kube, stream);
  const name = eventName(stored, action);
  const { namespace } = stream;
  const call = (verb: 'get' | 'create' | 'patch') => ({ verb, resource: 'events', namespace, name });
  try {
    const { apiVersion, kind, metadata } = stored;
    const event = {
      name,
      namespace,
      about: { apiVersion, kind, name: metadata.name, namespace, uid: metadata.uid },
      type: action.eventType,
      reason: action.reason,
      message: action.message,
      instance: hostname(),
      annotations: { [OCCURRENCE_ANNOTATION]: context.occurrence },
    };
    await kube.call(call('create'), () => writeEvent(kube.core, event));
    log.info({ eventType: action.eventType, reason: action.reason }, action.message);
    return { name, count: 1 };
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
  const existing = await kube.call(call('get'), () => kube.core.readNamespacedEvent({ name, namespace }));
  const count = existing.count ?? 1;
  if (existing.metadata.annotations?.[OCCURRENCE_ANNOTATION] === context.occurrence) return { name, count };
  // The resourceVersion makes concurrent bumps conflict and retry instead of losing a count.
  const body = {
    metadata: {
      resourceVersion: existing.metadata.resourceVersion,
      annotations: { [OCCURRENCE_ANNOTATION]: context.occurrence },
    },
    count: count + 1,
    lastTimestamp: new Date().toISOString(),
  };
  await kube.call(call('patch'), () => kube.core.patchNamespacedEvent({ name, namespace, body }, mergePatch));
  log.info({ eventType: action.eventType, reason: action.reason, count: count + 1 }, action.message);
  return { name, count: count + 1 };
}
