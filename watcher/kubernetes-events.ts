// Kubernetes Events about cluster-scoped objects (StreamClasses), recorded in `default` as kubectl looks for them there.
import { randomBytes } from 'node:crypto';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage } from '../kubernetes/errors.ts';
import { writeEvent } from '../kubernetes/events.ts';
import type { WatchedObject } from './forwarding.ts';

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
    // A fresh name each time: every transition of a class is its own Event.
    const unique = `${Date.now().toString(16)}${randomBytes(2).toString('hex')}`;
    const { uid, resourceVersion } = object.metadata ?? {};
    try {
      await writeEvent(this.core, {
        name: `${name}.${unique}`,
        namespace: EVENT_NAMESPACE,
        about: { apiVersion: object.apiVersion, kind: object.kind, name, uid, resourceVersion },
        ...note,
        instance: this.instance,
      });
    } catch (error) {
      this.log.warn({ error: errorMessage(error), object: name, reason: note.reason }, 'could not record an Event');
    }
  }
}
