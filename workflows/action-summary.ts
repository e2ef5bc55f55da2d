// One readable line per activity call, shown in the Temporal UI next to each scheduled activity.
import type { StreamKey } from '../resources/stream-key.ts';
import type { Action } from './lifecycle.ts';

export function actionSummary(stream: StreamKey, action: Action): string {
  const target = `${stream.namespace}/${stream.name}`;
  switch (action.type) {
    case 'applyStreamingJob':
      return `${action.replaces ? 'replace' : 'create'} streaming Job ${target}`;
    case 'applyBackfillJob':
      return `${action.replaces ? 'replace' : 'create'} backfill Job ${target} for ${action.request}`;
    case 'applyCronJob':
      return `${action.replaces ? 'replace' : 'create'} CronJob ${target}`;
    case 'deleteJob':
      return `delete Job ${target}`;
    case 'releaseJob':
      return `release finished Job ${target} (its outcome is recorded)`;
    case 'refuseBackfillRequest':
      return `refuse BackfillRequest ${stream.namespace}/${action.name}: ${action.reason}`;
    case 'deleteCronJob':
      return `delete CronJob ${target}`;
    case 'adoptJob':
      return `label adopted Job ${target}`;
    case 'adoptCronJob':
      return `label adopted CronJob ${target}`;
    case 'createBackfillRequest':
      return `create BackfillRequest ${stream.namespace}/${action.name}`;
    case 'completeBackfillRequest':
      return `complete BackfillRequest ${stream.namespace}/${action.name}`;
    case 'writeStatus':
      return `status of ${target}: ${action.phase || '(none)'} ${action.reason}`;
    case 'recordEvent':
      return `${action.eventType} event ${action.reason} on ${target}`;
  }
}
