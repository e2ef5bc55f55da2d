// The Job and CronJob a stream's definition and templates build (SPEC 3); pure, shared by observe and apply.
import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import type { BackfillRequest } from '../resources/backfill-request.ts';
import { buildBackfillJob, buildCronJob, buildStreamingJob, type JobInput } from '../resources/job-builder.ts';
import type { Result } from '../resources/result.ts';
import type { StreamDefinition } from '../resources/stream-definition.ts';
import type { StreamingJobTemplate } from '../resources/streaming-job-template.ts';

function jobInput(definition: StreamDefinition, template: StreamingJobTemplate): JobInput {
  return { stream: definition.ref, spec: definition.spec, template, secretNames: definition.secretNames };
}

export function streamingJob(definition: StreamDefinition, template: StreamingJobTemplate): Result<V1Job> {
  return buildStreamingJob(jobInput(definition, template));
}

export function backfillJob(
  definition: StreamDefinition,
  template: StreamingJobTemplate,
  request: BackfillRequest,
): Result<V1Job> {
  return buildBackfillJob(jobInput(definition, template), request);
}

export function cronJob(
  definition: StreamDefinition,
  template: StreamingJobTemplate,
  schedule: string,
): Result<V1CronJob> {
  return buildCronJob({ ...jobInput(definition, template), schedule });
}
