// A real Temporal dev server (SQLite file, Web UI) with the project's search attributes registered.
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributeKeys } from '../client/search-attributes.ts';
import { freePort } from '../operations/ports.ts';
import { launch, type ManagedProcess } from './process.ts';

export interface TemporalServer {
  address: string;
  namespace: string;
  uiUrl: string;
  dbFile: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface TemporalServerOptions {
  binary: string;
  dir: string;
  logDir: string;
  /** Reuse ports (and the database file in `dir`) to restart a server in place. */
  port?: number;
  uiPort?: number;
}

export async function startTemporalServer(options: TemporalServerOptions): Promise<TemporalServer> {
  const port = options.port ?? (await freePort());
  const uiPort = options.uiPort ?? (await freePort());
  const dbFile = join(options.dir, 'temporal.sqlite');
  const namespace = 'default';
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort)];
  args.push('--http-port', String(await freePort()), '--metrics-port', String(await freePort()));
  args.push('--db-filename', dbFile, '--log-level', 'warn', '--namespace', namespace);
  for (const key of searchAttributeKeys) args.push('--search-attribute', `${key.name}=Keyword`);
  const proc = launch('temporal', options.binary, args, { logDir: options.logDir });
  const address = `127.0.0.1:${port}`;
  try {
    await proc.waitUntil('frontend answering', async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    });
  } catch (error) {
    await proc.stop(); // a server that never answered must not outlive the failed start
    throw error;
  }
  return {
    address,
    namespace,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    dbFile,
    process: proc,
    stop: () => proc.stop(),
  };
}
