// A real Temporal dev server (SQLite file, Web UI) with the project's search attributes registered.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributeKeys } from '../client/search-attributes.ts';
import { freePort } from '../operations/ports.ts';
import { launch, startOnFreshPorts, type ManagedProcess } from './process.ts';

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
  /** Picks each port not given (a free loopback port by default). */
  pickPort?: () => Promise<number>;
}

export async function startTemporalServer(options: TemporalServerOptions): Promise<TemporalServer> {
  // Only ports this function picked may be picked again; a restart in place keeps its ports (and its database).
  if (options.port !== undefined || options.uiPort !== undefined) return startOnce(options);
  const logFile = join(options.logDir, 'temporal.log');
  let logged = 0;
  return startOnFreshPorts(
    () => {
      logged = statSync(logFile, { throwIfNoEntry: false })?.size ?? 0;
      return startOnce(options);
    },
    {
      portTaken: () => /address already in use/.test(logSince(logFile, logged)),
      // A fresh start: the database the failed one may have begun is dropped, so the search attributes, registered
      // only when the file is created, are registered again.
      beforeNext: () => {
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${databaseFile(options)}${suffix}`, { force: true });
      },
    },
  );
}

/** What a process wrote to its log after the log was `offset` bytes long. */
function logSince(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

/**
 * The dev server's SQLite keeps a rollback journal and syncs the disk on every commit unless told otherwise: the
 * local Temporal then spent a third more CPU than it needs on a burst of 1,000 streams (70 s against 45 s in WAL mode,
 * bench/results.md) on the same two cores as the operator under test. A write-ahead log synced at checkpoints
 * survives a crash of the server process (the restart tests rely on that); only a crash of the machine may lose the
 * last commits, which a local stack can afford.
 */
export const SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

function databaseFile(options: TemporalServerOptions): string {
  return join(options.dir, 'temporal.sqlite');
}

async function startOnce(options: TemporalServerOptions): Promise<TemporalServer> {
  const pick = options.pickPort ?? freePort;
  const port = options.port ?? (await pick());
  const uiPort = options.uiPort ?? (await pick());
  const dbFile = databaseFile(options);
  const namespace = 'default';
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort)];
  args.push('--http-port', String(await pick()), '--metrics-port', String(await pick()));
  args.push('--db-filename', dbFile, '--log-level', 'warn', '--namespace', namespace);
  for (const pragma of SQLITE_PRAGMAS) args.push('--sqlite-pragma', pragma);
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
