// Writes core/v1 Events as the operator's component: the stream workflow's notes (activities/events.ts) and the
// watcher's notes about StreamClasses (watcher/kubernetes-events.ts) both go through `writeEvent`.
import type { CoreV1Api, CoreV1Event, V1ObjectReference } from '@kubernetes/client-node';

/** The component every Event of this operator names as its source, as `kubectl describe` shows it. */
export const EVENT_COMPONENT = 'arcane-operator';

export interface NewEvent {
  name: string;
  namespace: string;
  /** What the Event is about. */
  about: V1ObjectReference;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** Which process wrote it (a pod's name, the watcher's identity). */
  instance: string;
  annotations?: Record<string, string>;
}

/** Creates the Event, counted once, first and last seen now. */
export function writeEvent(core: CoreV1Api, event: NewEvent): Promise<CoreV1Event> {
  const { name, namespace, annotations } = event;
  const now = new Date();
  const body: CoreV1Event = {
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    involvedObject: event.about,
    type: event.type,
    reason: event.reason,
    message: event.message,
    count: 1,
    firstTimestamp: now,
    lastTimestamp: now,
    source: { component: EVENT_COMPONENT },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance: event.instance,
  };
  return core.createNamespacedEvent({ namespace, body });
}
