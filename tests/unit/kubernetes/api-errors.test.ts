// The API server quotes the values it rejects; none of them may reach an error the operator records. And what counts
// as an answer's status code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusCode, withoutValues } from '../../../kubernetes/errors.ts';

const marker = 'sk-live-7f3a9c';

test('a quoted string value is withheld and the field and reason are kept', () => {
  const message = `Job.batch "orders" is invalid: spec.template.spec.containers[0].env[3].value: Invalid value: "${marker}": must be no more than 63 characters`;
  const shown = withoutValues(message);
  assert.doesNotMatch(shown, new RegExp(marker));
  assert.equal(
    shown,
    'Job.batch "orders" is invalid: spec.template.spec.containers[0].env[3].value: Invalid value: (value withheld): must be no more than 63 characters',
  );
});

test('object, list, escaped-quote and bare values are withheld, each error of a list on its own', () => {
  const message =
    `[metadata.labels: Invalid value: {"a":"${marker}","b":"x\\"}"}: must match, ` +
    `spec.args: Invalid value: ["${marker}"]: too many, spec.replicas: Invalid value: 7${marker}: must be positive, ` +
    `spec.kind: Unsupported value: "${marker}": supported values: "Job"]`;
  const shown = withoutValues(message);
  assert.doesNotMatch(shown, new RegExp(marker));
  assert.equal(
    shown,
    '[metadata.labels: Invalid value: (value withheld): must match, spec.args: Invalid value: (value withheld): too many, ' +
      'spec.replicas: Invalid value: (value withheld): must be positive, spec.kind: Unsupported value: (value withheld): ' +
      'supported values: "Job"]',
  );
});

test('a message without values is unchanged', () => {
  const message = 'jobs.batch "orders" already exists';
  assert.equal(withoutValues(message), message);
});

test('only an HTTP status counts as a status code: not a network error, not an abandoned request', () => {
  assert.equal(statusCode({ code: 404 }), 404);
  assert.equal(statusCode({ statusCode: 410 }), 410);
  assert.equal(statusCode(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), undefined);
  // A request abandoned by its timeout signal is a DOMException whose `code` is 23.
  assert.equal(statusCode(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), undefined);
  assert.equal(statusCode({ code: 23 }), undefined);
});
