// The operator's Kubernetes clients reuse their connections to the API server: calls in a row, from any client built
// from one kubeconfig, travel over one keep-alive connection instead of a TCP and TLS handshake each.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { makeKeepAliveClient } from '../../operations/keep-alive.ts';
import { kubeConfig } from './stack-env.ts';

/** Inodes of this process's established TCP connections to `port` on loopback (Linux /proc). */
function connectionsTo(port: number): Set<string> {
  const sockets = new Set(
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1] ?? ''];
      } catch {
        return []; // closed while listing
      }
    }),
  );
  const remote = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const found = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [remoteAddress, state, inode] = [fields[2], fields[3], fields[9]];
    // State 01 is ESTABLISHED.
    if (remoteAddress?.endsWith(remote) && state === '01' && inode && sockets.has(inode)) found.add(inode);
  }
  return found;
}

test('calls in a row from two clients of one kubeconfig share one connection', async () => {
  const kc = kubeConfig();
  const port = Number(new URL(kc.getCurrentCluster()!.server).port);
  const core = makeKeepAliveClient(kc, CoreV1Api);
  const custom = makeKeepAliveClient(kc, CustomObjectsApi);
  const before = connectionsTo(port);
  for (let call = 0; call < 10; call++) {
    await core.listNamespace({ limit: 1 });
    await custom.listClusterCustomObject({
      group: 'apiextensions.k8s.io',
      version: 'v1',
      plural: 'customresourcedefinitions',
      limit: 1,
    });
  }
  const opened = [...connectionsTo(port)].filter((inode) => !before.has(inode));
  assert.equal(opened.length, 1, `20 calls opened ${opened.length} connections`);
});
