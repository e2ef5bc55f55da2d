// The worker's /metrics text: its own registry, then the Temporal SDK's metrics scraped from Core's loopback port; a
// Core that is gone or stuck costs the SDK's metrics, never the worker's own.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { listen } from '../../../operations/health.ts';
import { appendingScrape } from '../../../worker/sdk-metrics.ts';

const coreText =
  '# HELP temporal_request_total Client requests\n# TYPE temporal_request_total counter\n' +
  'temporal_request_total{operation="PollActivityTaskQueue"} 3\n';

function registryWithCounter(): Registry {
  const registry = new Registry();
  new Counter({ name: 'arcane_test_total', help: 'a counter of the worker', registers: [registry] }).inc();
  return registry;
}

/** Prometheus's default scrape_timeout. */
const PROMETHEUS_SCRAPE_TIMEOUT_MS = 10_000;

/** A promise that fails after `ms`, unless the process ends first (the timer does not keep it alive). */
function rejectAfter(ms: number, why: string): Promise<never> {
  return new Promise((_resolve, reject) => setTimeout(() => reject(new Error(why)), ms).unref());
}

/** A logger whose lines the test reads. */
function capturedLog() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino(
    { level: 'warn' },
    { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) },
  );
  return { log, lines };
}

/** A loopback server answering every request with `respond`, closed when the test ends. */
async function serve(t: TestContext, respond: Parameters<typeof listen>[2]): Promise<string> {
  const server = await listen('127.0.0.1', 0, respond);
  t.after(() => server.close());
  return `http://127.0.0.1:${server.port}/metrics`;
}

describe('worker metrics exposition', () => {
  it("appends Core's metrics to the registry's", async (t) => {
    const url = await serve(t, (_req, res) => {
      res.end(coreText);
    });
    const registry = registryWithCounter();
    const { log, lines } = capturedLog();
    const text = await appendingScrape(registry, url, log).metrics();
    assert.equal(text, (await registry.metrics()) + coreText);
    assert.deepEqual(lines, []);
  });

  it("serves the registry's metrics alone, and says why, when Core does not answer", async (t) => {
    const gone = await listen('127.0.0.1', 0, () => undefined);
    await gone.close();
    const registry = registryWithCounter();
    const { log, lines } = capturedLog();
    const exposition = appendingScrape(registry, `http://127.0.0.1:${gone.port}/metrics`, log);
    assert.equal(await exposition.metrics(), await registry.metrics());
    assert.equal(lines[0]?.msg, 'Temporal SDK metrics left out of this scrape');

    const failing = appendingScrape(
      registry,
      await serve(t, (_req, res) => {
        res.writeHead(500).end();
      }),
      log,
    );
    assert.equal(await failing.metrics(), await registry.metrics());
    assert.equal(lines.length, 2);
  });

  it('gives up on a stuck Core in time for the scrape that asked', async (t) => {
    const url = await serve(t, () => undefined); // never answers
    const registry = registryWithCounter();
    const { log, lines } = capturedLog();
    // What the worker must meet is Prometheus's own scrape timeout (10 s unless configured): a /metrics that answers
    // later is a failed scrape, the worker's own metrics lost with Core's.
    const scrape = appendingScrape(registry, url, log).metrics();
    const text = await Promise.race([scrape, rejectAfter(PROMETHEUS_SCRAPE_TIMEOUT_MS, 'Prometheus gave up first')]);
    assert.equal(text, await registry.metrics());
    assert.equal(lines[0]?.msg, 'Temporal SDK metrics left out of this scrape');
    assert.match(JSON.stringify(lines[0]), /timeout/i, 'left out because Core took too long, not for another reason');
  });

  it('serves the registry alone when the worker runs without SDK metrics', async () => {
    const registry = registryWithCounter();
    const exposition = appendingScrape(registry, undefined, capturedLog().log);
    assert.equal(await exposition.metrics(), await registry.metrics());
    assert.equal(exposition.contentType, registry.contentType);
  });
});
