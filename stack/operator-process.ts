// One of the operator's processes (`arcane watcher` or `arcane worker`) on the local stack, started through the CLI as
// production starts it, configured by environment variables, with its log in the stack's log folder. The end-to-end
// tests and the benchmark run the operator this way.
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { freePort } from '../operations/ports.ts';
import { distinctPorts, launch, startOnFreshPorts, type ManagedProcess } from './process.ts';

/**
 * The production entry point of each process: the one place that says how the operator is started. Its extension is
 * this module's own: the sources start the sources, the package's compiled dist/ starts the compiled CLI.
 */
const CLI = join(import.meta.dirname, `../cli/arcane${extname(import.meta.filename)}`);
type Role = 'watcher' | 'worker';

/** The Node options the operator's image starts its processes with (deploy/Dockerfile), so that they run the same here. */
export function imageNodeOptions(dockerfile: string): string {
  const match = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile);
  if (!match) throw new Error('deploy/Dockerfile sets no NODE_OPTIONS (ENV NODE_OPTIONS="...")');
  return match[1] as string;
}

const IMAGE_NODE_OPTIONS = imageNodeOptions(readFileSync(join(import.meta.dirname, '../deploy/Dockerfile'), 'utf8'));

/** Its log file is kept across restarts. */
export class OperatorProcess {
  readonly role: Role;
  private readonly env: NodeJS.ProcessEnv;
  private readonly logDir: string;
  private current: ManagedProcess | undefined;
  private currentPorts: { health: number; metrics: number } | undefined;

  constructor(role: Role, env: Record<string, string>, logDir: string) {
    this.role = role;
    this.logDir = logDir;
    // Nothing from the developer's shell may configure the operator under test.
    const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('ARCANE_'));
    const loopback = { ARCANE_HEALTH_HOST: '127.0.0.1', ARCANE_METRICS_HOST: '127.0.0.1' };
    this.env = { ...Object.fromEntries(inherited), NODE_OPTIONS: IMAGE_NODE_OPTIONS, ...env, ...loopback };
  }

  /**
   * Starts the process on fresh probe and metrics ports and waits until `/health/ready` answers 200. A port found free
   * can be taken by someone else before the process listens on it; then it starts again on other ports.
   */
  async start(): Promise<void> {
    if (this.current?.running) throw new Error(`the ${this.role} is already running`);
    await startOnFreshPorts(
      async () => {
        const [health, metrics] = (await distinctPorts(freePort, 2)) as [number, number];
        const env = { ...this.env, ARCANE_HEALTH_PORT: String(health), ARCANE_METRICS_PORT: String(metrics) };
        const proc = launch(this.role, process.execPath, [CLI, this.role], { logDir: this.logDir, env });
        this.current = proc;
        this.currentPorts = { health, metrics };
        const url = `http://127.0.0.1:${health}/health/ready`;
        await proc.waitUntil('ready', async () => (await fetch(url)).status === 200, 90_000);
      },
      { portTaken: () => this.current?.running === false && /EADDRINUSE/.test(this.current.tail(40)) },
    );
  }

  /** SIGTERM, as on a rolling update: the process must finish what it runs and exit 0. */
  async stop(): Promise<void> {
    const proc = this.current;
    if (!proc?.running) return;
    await proc.stop();
    if (proc.exitCode !== 0) {
      throw new Error(`the ${this.role} did not stop cleanly on SIGTERM (exit ${proc.exitCode}):\n${proc.tail(15)}`);
    }
  }

  /** kill -9: no chance to clean up. */
  async kill(): Promise<void> {
    await this.current?.kill();
  }

  /** Sends a signal to the process group, e.g. SIGSTOP to freeze it mid-work. */
  signal(signal: NodeJS.Signals): void {
    this.current?.signal(signal);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The Prometheus text the running process serves on `/metrics`. */
  async metrics(): Promise<string> {
    if (!this.current?.running || !this.currentPorts) throw new Error(`the ${this.role} is not running`);
    const response = await fetch(`http://127.0.0.1:${this.currentPorts.metrics}/metrics`);
    if (!response.ok) throw new Error(`the ${this.role}'s /metrics answered ${response.status}`);
    return response.text();
  }

  /** Resident memory of the running Node process, now and at its peak, in bytes (Linux /proc). */
  memory(): { rssBytes: number; peakRssBytes: number } {
    const reaper = this.current?.running ? this.current.pid : undefined;
    if (reaper === undefined) throw new Error(`the ${this.role} is not running`);
    // The launched command runs as the only child of the reaper shell.
    const node = readFileSync(`/proc/${reaper}/task/${reaper}/children`, 'utf8').trim().split(/\s+/)[0];
    const status = readFileSync(`/proc/${node}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
  }
}
