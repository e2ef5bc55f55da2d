// A stream's status as stored, read leniently: this operator, upstream or anyone may have written it, and a plugin's
// schema may have pruned parts of it. StreamClasses and BackfillRequests carry conditions of the same shape.
import { z } from 'zod';

// A field of the wrong type reads as absent: a garbled status is rewritten, never a reason to fail.
const text = z.string().optional().catch(undefined);

/** One condition of the standard metav1.Condition shape; every field absent when the stored object lacks it. */
const storedConditionSchema = z
  .looseObject({
    type: text,
    status: text,
    reason: text,
    message: text,
    observedGeneration: z.number().optional().catch(undefined),
    lastTransitionTime: text,
  })
  // Not an object at all: a condition that says nothing, so the others keep their places.
  .catch(() => ({}));

export const storedStatusSchema = z
  .object({
    phase: text,
    configurationHash: text,
    conditions: z.array(storedConditionSchema).catch(() => []),
  })
  .catch(() => ({ conditions: [] }));

export type StoredCondition = z.infer<typeof storedConditionSchema>;
export type StoredStatus = z.infer<typeof storedStatusSchema>;

/** The `status` of a stored object (anything, or nothing) as a typed status; never throws. */
export function readStoredStatus(status: unknown): StoredStatus {
  return storedStatusSchema.parse(status);
}
