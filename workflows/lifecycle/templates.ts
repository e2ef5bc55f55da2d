// StreamingJobTemplates as the lifecycle sees them: needed to build a workload, and rolled out when they change.
import { inPhase, outcome, warning, type Context, type Outcome } from './outcome.ts';

/** Which template a workload is built from: the active backend's, or the backfill one. */
export type TemplateKind = 'streaming' | 'backfill';

/**
 * Why the template to build from cannot be used, else undefined: Pending with TemplateNotFound (re-checked later) when
 * it is missing, Failed with InvalidTemplate when it cannot build this stream's workload (until it changes).
 */
export function templateUnusable(ctx: Context, kind: TemplateKind): Outcome | undefined {
  const template = ctx.observation.templates[kind];
  if (template?.found && template.problem !== undefined) {
    const message = `the ${kind} template ${template.ref} cannot build this stream's workload: ${template.problem}`;
    return outcome(inPhase(ctx.state, 'Failed', message, 'InvalidTemplate'), {
      entryEvent: warning('InvalidTemplate', message),
    });
  }
  if (template?.found) return undefined;
  const message = template
    ? `the ${kind} template ${template.ref} was not found; the workload is created once it exists`
    : `the spec names no ${kind} template; nothing can be built until it does`;
  return outcome(inPhase(ctx.state, 'Pending', message, 'TemplateNotFound'), {
    entryEvent: warning('TemplateNotFound', message),
    wakeAt: ctx.now + ctx.config.recheckMs,
  });
}

/** A note explaining the rollout when the workload was built from an older generation of its template. */
export function rolloutNote(ctx: Context, workload: { templateGeneration?: number }): string | undefined {
  const template = ctx.observation.templates.streaming;
  const built = workload.templateGeneration;
  // Workloads adopted from upstream carry no generation, and pinned streams opt out.
  if (ctx.pinTemplate || built === undefined || !template?.found || template.generation === undefined) return undefined;
  if (built >= template.generation) return undefined;
  return `template ${template.ref} is at generation ${template.generation} and the workload was built from ${built}`;
}
