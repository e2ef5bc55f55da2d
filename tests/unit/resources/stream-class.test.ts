// StreamClass: the plugin kind it points at and the secret fields it declares.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStreamClass } from '../../../resources/stream-class.ts';
import { unwrap } from './examples.ts';

test('a StreamClass names the group, version, kind and plural of its streams', () => {
  const streamClass = unwrap(
    parseStreamClass({
      apiVersion: 'streaming.sneaksanddata.com/v1',
      kind: 'StreamClass',
      metadata: { name: 'sql-server' },
      spec: {
        apiGroupRef: 'streaming.sneaksanddata.com',
        apiVersion: 'v1beta1',
        kindRef: 'MicrosoftSqlServerStream',
        pluralName: 'microsoft-sql-server-streams',
        secretRefs: ['connectionStringRef'],
      },
    }),
  );
  assert.deepEqual(streamClass, {
    name: 'sql-server',
    group: 'streaming.sneaksanddata.com',
    version: 'v1beta1',
    apiVersion: 'streaming.sneaksanddata.com/v1beta1',
    kind: 'MicrosoftSqlServerStream',
    plural: 'microsoft-sql-server-streams',
    secretRefs: ['connectionStringRef'],
  });
});

test('a StreamClass without apiGroupRef or secretRefs points at the core group and loads no secrets', () => {
  const streamClass = unwrap(
    parseStreamClass({
      metadata: { name: 'core' },
      spec: { apiVersion: 'v1', kindRef: 'Stream', pluralName: 'streams' },
    }),
  );
  assert.equal(streamClass.apiVersion, 'v1');
  assert.equal(streamClass.group, '');
  assert.deepEqual(streamClass.secretRefs, []);
});
