/** How pgwardenctl talks to the operator: results on stdout, progress dots on a terminal only. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const say = (text: string): void => void process.stdout.write(`${text}\n`);

/** Progress for a human watching; nothing when stderr is not a terminal (scripts, tests). */
export const progress = (text: string): void => {
  if (process.stderr.isTTY) process.stderr.write(text);
};

/** Waits for a long request, printing a dot per second on a terminal. */
export async function withProgress<T>(what: string, work: Promise<T>): Promise<T> {
  progress(`${what}`);
  const timer = setInterval(() => progress('.'), 1000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    progress('\n');
  }
}
