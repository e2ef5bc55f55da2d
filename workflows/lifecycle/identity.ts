// Which stream a lifecycle is about: the kind its StreamClass served when first seen, and the object's uid. A class
// that stops serving that kind lets the stream go untouched; another object under the same name starts afresh.
import type { Observation, ObservedStream, StreamKind, StreamState } from './types.ts';

/** The state of a lifecycle that has not seen its stream yet. */
export function initialStreamState(): StreamState {
  return {
    phase: '',
    condition: { reason: '', message: '' },
    configurationHash: '',
    initialBackfill: 'unseen',
    restartCount: 0,
    quickCompletions: 0,
    restartRequested: false,
    transitions: [],
  };
}

function sameKind(a: StreamKind, b: StreamKind): boolean {
  return a.group === b.group && a.kind === b.kind && a.plural === b.plural;
}

function describeKind({ group, kind, plural }: StreamKind): string {
  return `${kind} (${group === '' ? plural : `${plural}.${group}`})`;
}

/** Why the lifecycle must let go of its stream without touching anything, or undefined while it manages it. */
export function detachedBecause(state: StreamState, observation: Observation): string | undefined {
  // Truthiness, not presence: observations recorded in older histories carry `detached: false`.
  if (observation.detached) return observation.detached;
  const { kind } = observation;
  if (state.kind === undefined || kind === undefined || sameKind(state.kind, kind)) return undefined;
  // Reading on under the new kind would find no such object, and deleting the Job would destroy another kind's stream.
  return `the StreamClass now serves ${describeKind(kind)}, no longer ${describeKind(state.kind)}; the stream and its workloads are left as they are`;
}

/** The lifecycle ends detached: nothing is written or deleted (but its own finalizer, see job-removal), the condition says why. */
export function detach(state: StreamState, why: string): StreamState {
  return { ...state, ended: 'detached', condition: { reason: 'StreamDetached', message: why } };
}

/** The kind is remembered from the first observation that names one. */
export function withKind(state: StreamState, observation: Observation): StreamState {
  return state.kind === undefined && observation.kind !== undefined ? { ...state, kind: observation.kind } : state;
}

/**
 * The state for the observed stream object. The first uid seen is remembered. An object with another uid is a new
 * stream of the same name (the old one was deleted and created again), so it starts from a fresh state, with its own
 * initial backfill and phase.
 */
export function forObject(state: StreamState, stream: ObservedStream): StreamState {
  if (state.streamUid === stream.uid) return state;
  if (state.streamUid === undefined) return { ...state, streamUid: stream.uid };
  return { ...initialStreamState(), ...(state.kind === undefined ? {} : { kind: state.kind }), streamUid: stream.uid };
}
