/**
 * A resolver state (or workspace) file, watched and hot-reloaded. `fs.watch` on the file's
 * directory catches edits and atomic replaces (rename over the file); a `stat` poll catches
 * what watching misses (network file systems, platforms without inotify). Changes are
 * debounced, and identical content is not reloaded (nor, when it was rejected for what it holds,
 * reported again).
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { LoadedState, SourceListener, StateSource } from '../types.js';
import { stateLoader } from '../loading/state-loader.js';
import type { ParseOptions } from './parse-state.js';
import { RejectedContent } from './source-error.js';

export interface FileSourceOptions extends ParseOptions {
  /** Watch the file and reload it when it changes; default true. */
  readonly watch?: boolean;
  /** How often the file's `stat` is polled as a fallback to `fs.watch`; default 2,000 ms. */
  readonly pollIntervalMs?: number;
  /** Quiet time after a change before reloading (editors write in several steps); default 100 ms. */
  readonly debounceMs?: number;
}

/** A state from a file: `fileSource('./flags/state.json')`. */
export function fileSource(path: string, options: FileSourceOptions = {}): StateSource {
  return new FileSource(path, options);
}

class FileSource implements StateSource {
  readonly description: string;
  private readonly path: string;
  private listener: SourceListener | null = null;
  private watcher: FSWatcher | null = null;
  private poller: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  /** Digest of the content loaded (or rejected) last: a change event with the same content loads nothing. */
  private lastDigest: string | null = null;
  private lastStat = '';
  private loading: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    path: string,
    private readonly options: FileSourceOptions,
  ) {
    this.path = resolve(path);
    this.description = `file ${this.path}`;
  }

  start(listener: SourceListener): Promise<LoadedState> {
    this.listener = listener;
    if (this.options.watch !== false) this.watch();
    const first = this.loadFirst();
    // The first load counts as a reload running: a change meanwhile reloads after it, so that
    // a newer state never lands before it (and is then replaced by the older one).
    this.loading = first.then(
      () => undefined,
      () => undefined,
    ).finally(() => { this.loaded(); });
    return first;
  }

  private async loadFirst(): Promise<LoadedState> {
    this.lastStat = await this.statKey();
    this.lastDigest = null; // a start loads whatever the file holds, even content a start before rejected
    const { loaded, digest } = await this.load().catch((error: unknown) => {
      this.rejected(error);
      throw error;
    });
    this.lastDigest = digest;
    return loaded!;
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.poller !== null) clearInterval(this.poller);
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.poller = null;
    this.debounce = null;
    return this.loading ?? Promise.resolve();
  }

  private watch(): void {
    const name = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.changed();
      });
      // A watcher error (the directory removed, too many watches): the poll carries on.
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null;
    }
    this.poller = setInterval(() => {
      // A load pending or running (the first, or a reload) reads the `stat` itself: the first
      // tick after it compares with what it read.
      if (this.reloadAhead()) return;
      const before = this.lastStat;
      void this.statKey().then((key) => {
        // Not when a load is now pending or running, or one read the `stat` meanwhile: it may
        // have read this very write, which would be read a second time (and, if a workspace
        // is rejected, reported a second time).
        if (key !== before && this.lastStat === before && !this.reloadAhead()) this.changed();
      });
    }, this.options.pollIntervalMs ?? 2_000);
    this.poller.unref();
  }

  /** Whether a reload is pending (debounced), or a load (the first, or a reload) running. */
  private reloadAhead(): boolean {
    return this.debounce !== null || this.loading !== null;
  }

  private changed(): void {
    if (this.stopped) return;
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.reload();
    }, this.options.debounceMs ?? 100);
    this.debounce.unref();
  }

  /** One reload at a time; a change during a reload runs one more after it. */
  private reload(): void {
    if (this.loading !== null) {
      this.again = true;
      return;
    }
    this.loading = this.reloadOnce().finally(() => { this.loaded(); });
  }

  /** A load ended: one more runs if a change came meanwhile. */
  private loaded(): void {
    this.loading = null;
    if (this.again && !this.stopped) {
      this.again = false;
      this.reload();
    }
  }

  private async reloadOnce(): Promise<void> {
    const listener = this.listener;
    if (listener === null) return;
    try {
      this.lastStat = await this.statKey();
      const { loaded, digest } = await this.load();
      if (loaded === null || this.stopped) return;
      this.lastDigest = digest;
      listener.update(loaded);
    } catch (error) {
      if (this.stopped) return;
      this.rejected(error);
      listener.error(error as Error);
    }
  }

  /**
   * Remembers content the loader rejected for what it holds (`RejectedContent`) as the content
   * tried last: another write of the same bytes neither loads nor reports them again. A failure
   * that depends on more (a workspace's secrets file, a missing package) is not remembered: the
   * same bytes are tried again at the next change to the file.
   */
  private rejected(error: unknown): void {
    if (error instanceof RejectedContent) this.lastDigest = error.digest;
  }

  /** Read, parsed and compiled on the loader's worker; null when the content is the one loaded (or rejected) last. */
  private load(): ReturnType<typeof stateLoader.loadFile> {
    return stateLoader.loadFile(this.path, this.description, { ...this.options, workspacePath: this.path }, this.lastDigest);
  }

  private async statKey(): Promise<string> {
    try {
      const s = await stat(this.path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }
}
