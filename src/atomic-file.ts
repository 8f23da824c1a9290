/**
 * Replacing a file so that a reader sees either the old content or the new content, never a
 * mix: write a temporary file in the SAME directory (rename is atomic only within one file
 * system), flush it to disk, then rename it over the target. Used for PostgreSQL's configuration
 * files, the alert files and the JSON state file, which others may read at any moment.
 *
 * The temporary name starts with a dot and carries the process id, so a glob such as `*` in the
 * directory does not pick it up and two processes never share one. A crash between write and
 * rename leaves such a file behind; `isTemporaryName` lets owners of a directory recognise it.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The temporary file used while `target` is being replaced by this process. */
export function temporaryPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
}

/** True for a file name `temporaryPath` could have produced for `targetName` (any process). */
export function isTemporaryName(fileName: string, targetName: string): boolean {
  return fileName.startsWith(`.${targetName}.`) && /\.\d+\.tmp$/.test(fileName);
}

/** Synchronous variant, for rare writes where the caller's API is synchronous (alert files). */
export function writeFileAtomicSync(target: string, content: string): void {
  const tmp = temporaryPath(target);
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Asynchronous variant, for writes made every HA cycle (state file, PostgreSQL configuration). */
export async function writeFileAtomic(target: string, content: string, mode = 0o644): Promise<void> {
  const tmp = temporaryPath(target);
  try {
    const handle = await open(tmp, 'w', mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
