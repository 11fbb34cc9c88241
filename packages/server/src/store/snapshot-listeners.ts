/**
 * The listeners a store tells of each snapshot it installs (its own writes, and changes it
 * follows from elsewhere: the file edited on disk, another instance's write). A listener
 * that throws is isolated: the store and the other listeners carry on.
 */
import type { WorkspaceSnapshot } from './workspace-store.js';

export type SnapshotListener = (snapshot: WorkspaceSnapshot) => void;

export class SnapshotListeners {
  private readonly listeners = new Set<SnapshotListener>();

  constructor(private readonly onError: (error: unknown) => void = () => undefined) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Adds `listener`; the function returned removes it. */
  add(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(snapshot: WorkspaceSnapshot): void {
    for (const listener of this.listeners) {
      try {
        listener(snapshot);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
