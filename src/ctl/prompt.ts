/**
 * Interactive questions for `pgwardenctl`, only ever asked on a terminal: without one, a missing
 * answer is an error that names the flag to pass instead (scripts never hang on a prompt).
 */
import { createInterface } from 'node:readline/promises';
import { CtlError } from './context.js';

export const interactive = (): boolean => process.stdin.isTTY === true && process.stdout.isTTY === true;

export async function ask(question: string, flag: string): Promise<string> {
  if (!interactive()) throw new CtlError(`${question.replace(/[:?]\s*$/, '')}: no terminal to ask on; pass ${flag}`);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(`${question} `)).trim();
  } finally {
    rl.close();
  }
}

/** Asks a yes/no question unless `force`; a "no" is an error (nothing was done). */
export async function confirm(question: string, force: boolean): Promise<void> {
  if (force) return;
  const answer = await ask(`${question} [y/N]:`, '--force');
  if (!/^y(es)?$/i.test(answer)) throw new CtlError('aborted: nothing was changed');
}
