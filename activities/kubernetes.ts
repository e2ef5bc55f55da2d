// The Kubernetes clients the activities use; every call goes through `call`, which names it on failure (the clients'
// HTTP layer counts it, kubernetes/api-calls.ts).
import type { KubeConfig } from '@kubernetes/client-node';
import { BatchV1Api, CoreV1Api, CustomObjectsApi } from '../kubernetes/client-node.ts';
import { countedConfiguration, type ApiCallCounter } from '../kubernetes/api-calls.ts';
import { KubernetesApiError, isConflict, isNotFound, type ApiCall } from './errors.ts';

export interface KubernetesApi {
  batch: BatchV1Api;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** Sends one API call; a failure becomes a KubernetesApiError naming the call. */
  call<T>(call: ApiCall, send: () => Promise<T>): Promise<T>;
}

/** Now as metav1.Time writes it: RFC 3339 in whole seconds. */
export function metav1Now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export function createKubernetesApi(kubeConfig: KubeConfig, calls: ApiCallCounter): KubernetesApi {
  // Over one pool of keep-alive connections (the library's default opens a connection per call). The activities
  // have always counted a success as `2xx`, and the worker's dashboards and tests read it so.
  const configuration = countedConfiguration(kubeConfig, calls, { successAs2xx: true });
  return {
    batch: new BatchV1Api(configuration),
    core: new CoreV1Api(configuration),
    custom: new CustomObjectsApi(configuration),
    async call<T>(call: ApiCall, send: () => Promise<T>): Promise<T> {
      try {
        return await send();
      } catch (cause) {
        throw new KubernetesApiError(call, cause);
      }
    },
  };
}

/** Workloads change under their controllers all the time: each read of one goes to the API server. */
const alwaysRead = new Set(['jobs.batch', 'cronjobs.batch']);

function objectKey(call: ApiCall): string {
  return `${call.resource.replace(/\/status$/, '')}|${call.namespace ?? ''}|${call.name ?? ''}`;
}

/**
 * The API for one activity call: a named object (a StreamClass, the stream, a template) is read once, and any write to
 * it makes the next read go to the API server again. Reads of Jobs and CronJobs are never shared.
 */
export function sharedReads(kube: KubernetesApi): KubernetesApi {
  const reads = new Map<string, Promise<unknown>>();
  return {
    ...kube,
    call<T>(call: ApiCall, send: () => Promise<T>): Promise<T> {
      const key = objectKey(call);
      if (call.verb !== 'get' || call.name === undefined || alwaysRead.has(call.resource)) {
        if (call.verb !== 'get' && call.verb !== 'list') reads.delete(key);
        return kube.call(call, send);
      }
      const known = reads.get(key) as Promise<T> | undefined;
      if (known) return known;
      const read = kube.call(call, send);
      reads.set(key, read);
      // A failed read is not remembered: the next one asks again.
      read.catch(() => reads.delete(key));
      return read;
    },
  };
}

/** The object, or undefined when the API server says it does not exist. */
export async function unlessNotFound<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Runs a read-then-write again, from a fresh read, while its write fails on an outdated resourceVersion: objects such
 * as Jobs get status writes from their controller all the time, so a conflict is routine, not an error.
 */
export async function retryOnConflict<T>(readThenWrite: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readThenWrite();
    } catch (error) {
      if (!isConflict(error) || attempt >= attempts) throw error;
    }
  }
}

/** The RBAC name of a custom resource: `<plural>.<group>`. */
export function customResource(group: string, plural: string): string {
  return group === '' ? plural : `${plural}.${group}`;
}
