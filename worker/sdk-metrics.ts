// Temporal SDK (Core) metrics on the worker's /metrics (SPEC 7): Core serves them on a loopback port of its own, and
// each scrape of the worker appends them to its registry's, so one port and one scrape job cover both.
import { Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Exposition } from '../operations/health.ts';
import { freePort } from '../operations/ports.ts';
import { sdkLogger } from './sdk-logger.ts';

/** Core answers from memory on loopback; longer means it is stuck, and /metrics must still answer in time. */
const CORE_SCRAPE_TIMEOUT_MS = 2_000;

/** The free port may be taken by another process before Core binds it. */
const BIND_ATTEMPTS = 3;

/** Core's metrics named as Prometheus expects (`temporal_` prefix, seconds, `_total`), distinct from prom-client's. */
function coreExporter(bindAddress: string) {
  return { bindAddress, useSecondsForDurations: true, unitSuffix: true, countersTotalSuffix: true };
}

/**
 * Installs the SDK runtime, once per process and before any connection, logging through pino and with Core's exporter
 * on a free loopback port;
 * returns the URL to scrape, or undefined (logged) when the worker runs without SDK metrics.
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
      // Metrics are not worth a worker that does not run; e.g. a second worker in one process shares the runtime.
      log.error({ err: error }, 'Temporal SDK metrics are off: the SDK runtime could not be installed with them');
      return undefined;
    }
  }
}

/** The registry's metrics followed by those served at `url`; a failed scrape of it leaves them out and says so. */
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
