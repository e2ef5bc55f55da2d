// The stream workflows' typed search attributes (SPEC 5): registered by the worker, set by the workflow.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const streamClassKey = defineSearchAttributeKey('ArcaneStreamClass', SearchAttributeType.KEYWORD);
export const namespaceKey = defineSearchAttributeKey('ArcaneNamespace', SearchAttributeType.KEYWORD);
export const streamNameKey = defineSearchAttributeKey('ArcaneStreamName', SearchAttributeType.KEYWORD);
export const phaseKey = defineSearchAttributeKey('ArcanePhase', SearchAttributeType.KEYWORD);

export const searchAttributeKeys = [streamClassKey, namespaceKey, streamNameKey, phaseKey] as const;
