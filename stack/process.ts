// Stack components run in their own process groups, logged to files, and never outlive this process.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './wait.ts';

// A shell between us and the component polls our pid, so a SIGKILLed parent leaves no orphan behind: the component
// gets SIGTERM, and whatever of its group still runs after the grace period gets SIGKILL.
const reaper = `
parent=$1; grace=$2; shift 2
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit $?' TERM INT
"$@" &
child=$!
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1 & wait $!; done
if ! kill -0 "$parent" 2>/dev/null; then
  kill -TERM "$child" 2>/dev/null
  while [ "$grace" -gt 0 ] && kill -0 "$child" 2>/dev/null; do grace=$((grace - 1)); sleep 1 & wait $!; done
  kill -KILL 0
fi
wait "$child"
`;
/** How long a component whose owner died gets to stop after SIGTERM, in seconds. */
const orphanGraceSeconds = 10;

const live = new Set<ManagedProcess>();

export interface LaunchOptions {
  logDir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined = undefined;
  private readonly child: ChildProcess;

  constructor(name: string, command: string, args: string[], options: LaunchOptions) {
    this.name = name;
    this.logFile = join(options.logDir, `${name}.log`);
    const log = openSync(this.logFile, 'a');
    this.child = spawn(
      'bash',
      ['-c', reaper, 'reaper', String(process.pid), String(orphanGraceSeconds), command, ...args],
      {
        detached: true,
        stdio: ['ignore', log, log],
        env: options.env ?? process.env,
        cwd: options.cwd,
      },
    );
    closeSync(log);
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        live.delete(this);
        resolve(this.exitCode);
      });
    });
  }

  /** The pid of the reaper shell that runs the command (the leader of its process group). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Why waiting on this process is pointless, if it has died. */
  deathNotice = (): string | undefined =>
    this.running ? undefined : `${this.name} exited with ${this.exitCode}; last log lines:\n${this.tail()}`;

  tail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Sends a signal to the whole process group. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.signalGroup(signal);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // the group is already gone
    }
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the group has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    // Anything left behind in the group: what the component forked, or the component itself when the SIGTERM came
    // before the reaper could pass it on.
    this.signalGroup('SIGKILL');
  }

  /** Like kill -9: no chance to clean up. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  waitUntil<T>(description: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
    return waitFor(`${this.name}: ${description}`, probe, { timeoutMs, abortIf: this.deathNotice });
  }
}

export function launch(name: string, command: string, args: string[], options: LaunchOptions): ManagedProcess {
  return new ManagedProcess(name, command, args, options);
}

function killAllNow(): void {
  for (const proc of live) proc.signal('SIGKILL');
}

// The last resort, when the owner exits without stopping what it launched.
process.once('exit', killAllNow);

const stopSignals = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/**
 * For the owner of the launched processes (`arcane dev`, a test run): resolves on the first SIGINT, SIGTERM or SIGHUP,
 * on which the owner stops them gracefully. A second signal, or a stop still running `graceMs` after the first,
 * SIGKILLs every process group still running and exits.
 */
export function stopSignal(graceMs: number): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let first: NodeJS.Signals | undefined;
    const onSignal = (signal: keyof typeof stopSignals) => {
      if (first) killAllAndExit(128 + stopSignals[signal], `${signal} while stopping`);
      first = signal;
      const deadline = () => killAllAndExit(1, `still stopping ${graceMs} ms after ${signal}`);
      setTimeout(deadline, graceMs).unref();
      resolve(signal);
    };
    for (const signal of Object.keys(stopSignals) as (keyof typeof stopSignals)[]) process.on(signal, onSignal);
  });
}

function killAllAndExit(code: number, reason: string): never {
  process.stderr.write(`${reason}: killing ${[...live].map((proc) => proc.name).join(', ') || 'nothing'}\n`);
  killAllNow();
  process.exit(code);
}

/** `count` distinct free loopback ports (a picker may hand out one twice). */
export async function distinctPorts(pick: () => Promise<number>, count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await pick());
  return [...ports];
}

/** Attempts at a start whose freshly picked ports someone else took first (a port is free when picked, not when bound). */
const PORT_ATTEMPTS = 3;

export interface StartAgain {
  /** Whether the failed start found a port it picked taken (worth another start on freshly picked ports). */
  portTaken(error: unknown): boolean;
  /** Clears what the failed start left behind, before the next one. */
  beforeNext?(): void | Promise<void>;
}

/**
 * Runs `start` until it succeeds, up to PORT_ATTEMPTS times when each failure is a port taken between picking and
 * binding; any other failure, or the last, is thrown. `start` picks its ports afresh each time.
 */
export async function startOnFreshPorts<T>(start: () => Promise<T>, again: StartAgain): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || !again.portTaken(error)) throw error;
      await again.beforeNext?.();
    }
  }
}
