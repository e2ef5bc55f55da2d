// Kubernetes Events about cluster-scoped objects (StreamClasses), recorded in `default` as kubectl looks for them there.
import { randomBytes } from 'node:crypto';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage } from '../kubernetes/errors.ts';
import type { WatchedObject } from './forwarding.ts';

export const COMPONENT = 'arcane-operator';
const EVENT_NAMESPACE = 'default';

export interface EventNote {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export class EventRecorder {
  private readonly core: CoreV1Api;
  private readonly instance: string;
  private readonly log: Logger;

  constructor(core: CoreV1Api, instance: string, log: Logger) {
    this.core = core;
    this.instance = instance;
    this.log = log;
  }

  /** Best effort: an Event that cannot be written is logged, never retried. */
  async record(object: WatchedObject, note: EventNote): Promise<void> {
    const name = object.metadata?.name ?? '';
    const now = new Date();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: `${name}.${now.getTime().toString(16)}${randomBytes(2).toString('hex')}`,
        namespace: EVENT_NAMESPACE,
      },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        name,
        uid: object.metadata?.uid,
        resourceVersion: object.metadata?.resourceVersion,
      },
      type: note.type,
      reason: note.reason,
      message: note.message,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.core.createNamespacedEvent({ namespace: EVENT_NAMESPACE, body });
    } catch (error) {
      this.log.warn({ error: errorMessage(error), object: name, reason: note.reason }, 'could not record an Event');
    }
  }
}
