// kube-apiserver's audit log of Job creations: a file the API server appends every `create jobs` request to, kept
// across its restarts, so a test can count every Job ever created even where a watch of Jobs lost its place.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Only Job creations, with the created object (its uid and labels); everything else is left out. */
const POLICY = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived', 'ResponseStarted'],
  omitManagedFields: true,
  rules: [
    { level: 'RequestResponse', verbs: ['create'], resources: [{ group: 'batch', resources: ['jobs'] }] },
    { level: 'None' },
  ],
};

/** The audit log of each control plane this process started, by its API server address. */
const logs = new Map<string, string>();

/** The kube-apiserver flags that write the audit log into `dir`; registers it for `server`. */
export function jobAuditArgs(dir: string, server: string): string[] {
  const policy = join(dir, 'audit-policy.json');
  // JSON is valid YAML, which the API server reads.
  writeFileSync(policy, JSON.stringify(POLICY));
  const path = join(dir, 'job-audit.log');
  logs.set(server, path);
  // No size limit: a rotated file would hide earlier creations from a reader that follows one path.
  return ['--audit-policy-file', policy, '--audit-log-path', path, '--audit-log-maxsize', '0'];
}

/** The audit log of Job creations of the control plane at `server`, if this process started it. */
export function jobAuditLog(server: string): string | undefined {
  return logs.get(server);
}
