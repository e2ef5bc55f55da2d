// No secret value ever enters a payload: checked over every recorded workflow history (the histories a test run
// produces are checked at its end, see tests/integration/history-secrets.test.ts and global-setup.ts).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { encodedForms, historyText, secretsIn } from '../history-payloads.ts';
import { testPluginSecretValues } from '../history-secrets.ts';

const histories = join(import.meta.dirname, '../fixtures/histories');

it('recorded histories hold no value of the test plugin Secret, plain or base64', () => {
  const values = testPluginSecretValues();
  assert.ok(values.length > 0);
  const files = readdirSync(histories).filter((file) => file.startsWith('stream-') && file.endsWith('secret-ref.json'));
  assert.ok(files.length > 0, 'a history of a stream with a secretRef is recorded');
  for (const file of files) {
    const history = historyText(readFileSync(join(histories, file), 'utf8'));
    assert.match(history, /"streamClass":"mock-stream-v2"/, `${file} is a history of the stream using the Secret`);
    assert.equal(secretsIn(history, values).length, 0, `${file} contains a secret value`);
  }
});

it('finds a value base64-encoded inside longer data, at any offset', () => {
  const secret = 'connection-string-marker';
  for (const before of ['', 'a', 'ab', 'abc']) {
    const encoded = Buffer.from(`{"before":"${before}","value":"${secret}"}`).toString('base64');
    assert.deepEqual(secretsIn(`payload ${encoded} end`, [secret]), [secret], `after ${before.length} more bytes`);
  }
  assert.deepEqual(secretsIn(Buffer.from('connection-string').toString('base64'), [secret]), []);
  assert.equal(encodedForms(secret).length, 4, 'plain and one form per base64 offset');
});
