// Temporal SDK (Core) metrics on the worker's /metrics (SPEC 7): Core serves them on a loopback port of its own, and
// each scrape of the worker appends them to its registry's, so one port and one scrape job cover both.
import { Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Exposition } from '../operations/health.ts';
import { freePort } from '../operations/ports.ts';
import { sdkLogger } from './sdk-logger.ts';

/**
 * Core answers from memory over loopback, so this is plenty. Taking longer means it is stuck, and the worker's own
 * /metrics must still answer before Prometheus gives up on it.
 */
const CORE_SCRAPE_TIMEOUT_MS = 2_000;

/** A port found free may be taken by another process before Core binds it, so binding is tried a few times. */
const BIND_ATTEMPTS = 3;

/**
 * Core's exporter settings that name its metrics as Prometheus expects: a `temporal_` prefix, durations in seconds and
 * counters ending in `_total`. The prefix keeps them apart from the worker's own prom-client metrics.
 */
function coreExporter(bindAddress: string) {
  return { bindAddress, useSecondsForDurations: true, unitSuffix: true, countersTotalSuffix: true };
}

/**
 * Installs the SDK runtime, which can happen only once per process and before any connection. It logs through pino,
 * and Core serves its metrics on a free loopback port. Returns the URL to scrape there, or undefined (and logs why)
 * when the worker has to run without SDK metrics.
 */
async function installCoreExporter(log: Logger): Promise<string | undefined> {
  for (let attempt = 1; ; attempt++) {
    const bindAddress = `127.0.0.1:${await freePort()}`;
    try {
      Runtime.install({
        logger: sdkLogger(log),
        telemetryOptions: { metrics: { prometheus: coreExporter(bindAddress) } },
      });
      return `http://${bindAddress}/metrics`;
    } catch (error) {
      if (attempt < BIND_ATTEMPTS && /address already in use/i.test(String(error))) continue;
      // Better a worker without SDK metrics than no worker. This happens, for example, to a second worker in the same
      // process: the runtime is already installed, without this exporter.
      log.error({ err: error }, 'Temporal SDK metrics are off: the SDK runtime could not be installed with them');
      return undefined;
    }
  }
}

/**
 * The registry's metrics followed by those Core serves at `url`. When Core cannot be scraped its metrics are left out
 * and the failure is logged, so /metrics still answers with the worker's own.
 */
export function appendingScrape(registry: Registry, url: string | undefined, log: Logger): Exposition {
  return {
    contentType: registry.contentType,
    async metrics() {
      const own = await registry.metrics();
      if (url === undefined) return own;
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(CORE_SCRAPE_TIMEOUT_MS) });
        if (!response.ok) throw new Error(`${url} answered ${response.status}`);
        return own + (await response.text());
      } catch (error) {
        log.warn({ err: error }, 'Temporal SDK metrics left out of this scrape');
        return own;
      }
    },
  };
}

/** The registry's metrics followed by the Temporal SDK's; call before the worker connects. */
export async function withSdkMetrics(registry: Registry, log: Logger): Promise<Exposition> {
  return appendingScrape(registry, await installCoreExporter(log), log);
}
