// Runs a command-line tool of the stack (helm, kubectl) from a test: its output, or an error carrying its stderr.
import { execFile } from 'node:child_process';

/** Runs `command` with `input` on stdin; rejects with its stderr. */
export function runTool(command: string, args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { maxBuffer: 32 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(stderr || error.message));
      else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}
