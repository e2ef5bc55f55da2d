// What the `arcane` command prints: aligned tables, short ages, examples in help, and errors with their exit code.
import type { Command } from 'commander';

/** Exit codes of every `arcane` command (listed in the README). */
export const exitCodes = {
  ok: 0,
  /** The operation failed: rejected, not found, or a server could not be reached. */
  failed: 1,
  /** Bad arguments, flags or settings; nothing was sent anywhere. */
  usage: 2,
  /** `--wait` gave up at `--timeout` while the request was still open. */
  timedOut: 3,
  /** The awaited BackfillRequest ended without completing (deleted, or marked Failed). */
  notCompleted: 4,
} as const;

/** An error the command reports as one line and ends with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = exitCodes.failed) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Bad input from the command line: exit code 2. */
export function usageError(message: string): CliError {
  return new CliError(message, exitCodes.usage);
}

/**
 * One line out of an error and its causes: SDK errors often wrap the useful message (an update's rejection, a
 * connection refusal) in a generic one, so every distinct message along the `cause` chain is kept, outermost first.
 */
export function oneLine(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const message = current instanceof Error ? current.message : JSON.stringify(current);
    const text = message.replace(/\s+/g, ' ').trim();
    if (text !== '' && !messages.some((seen) => seen.includes(text))) messages.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  return messages.join(': ') || 'unknown error';
}

/** Rows of cells as columns padded to their widest cell, separated by three spaces like kubectl. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** A duration as kubectl shows ages: `45s`, `3m12s`, `5h4m`, `2d3h`. */
export function shortDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60 === 0 ? '' : `${seconds % 60}s`}`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${minutes % 60 === 0 ? '' : `${minutes % 60}m`}`;
  const days = Math.floor(hours / 24);
  return `${days}d${hours % 24 === 0 ? '' : `${hours % 24}h`}`;
}

/** A short span to the millisecond or tenth of a second (activity times, backoffs); longer ones as ages. */
export function preciseDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(Math.round(ms / 100) / 10).toString()}s`;
  return shortDuration(ms);
}

/** The output formats of listing commands. */
export type OutputFormat = 'table' | 'wide' | 'json';

export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined) return 'table';
  if (value === 'wide' || value === 'json') return value;
  throw usageError('-o/--output must be wide or json');
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Adds an `Example:` section to the command's help. */
export function withExample(command: Command, ...lines: string[]): Command {
  return command.addHelpText('after', `\nExample:\n${lines.map((line) => `  $ ${line}`).join('\n')}`);
}
