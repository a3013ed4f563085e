/**
 * Run events for live followers (SSE). Durable milestones live in the store with a per-run `seq`;
 * the hub only wakes followers, which then read what they have not seen from the store, so a
 * follower never misses or repeats a milestone, across restarts included (Last-Event-ID).
 * Progress of remote runs is transient: sent to whoever follows now, never stored.
 */
import type { StoredEvent } from "./store.js";

export type RunEventType =
  | "created"
  | "epoch_opened"
  | "epoch_closed"
  | "evaluation"
  | "step"
  | "progress"
  | "status";

/** An event as a follower sees it; `seq` is null for transient ones. */
export interface RunEvent {
  seq: number | null;
  type: string;
  at: string;
  data: unknown;
}

export interface Follower {
  /** Durable events were appended: read them from the store. */
  wake(): void;
  /** A transient event (progress). */
  transient(event: RunEvent): void;
}

export class EventHub {
  private readonly followers = new Map<string, Set<Follower>>();
  /** While `hold` runs: the runs to wake and the transient events to send afterwards. */
  private held: { wake: Set<string>; transient: Array<[string, RunEvent]> } | null = null;

  /**
   * Runs `work` with wakes and transient events held back, then delivers them (also when `work`
   * throws): a group commit wakes followers only once its writes are committed.
   */
  hold<T>(work: () => T): T {
    if (this.held !== null) return work();
    const held = { wake: new Set<string>(), transient: [] as Array<[string, RunEvent]> };
    this.held = held;
    try {
      return work();
    } finally {
      this.held = null;
      for (const [id, event] of held.transient) this.transient(id, event);
      for (const id of held.wake) this.wake(id);
    }
  }

  follow(id: string, follower: Follower): () => void {
    let set = this.followers.get(id);
    if (set === undefined) {
      set = new Set();
      this.followers.set(id, set);
    }
    set.add(follower);
    return () => {
      set.delete(follower);
      if (set.size === 0) this.followers.delete(id);
    };
  }

  wake(id: string): void {
    if (this.held !== null) {
      this.held.wake.add(id);
      return;
    }
    for (const f of this.followers.get(id) ?? []) f.wake();
  }

  transient(id: string, event: RunEvent): void {
    if (this.held !== null) {
      this.held.transient.push([id, event]);
      return;
    }
    for (const f of this.followers.get(id) ?? []) f.transient(event);
  }

  hasFollowers(id: string): boolean {
    return this.followers.has(id);
  }
}

export function toRunEvent(stored: StoredEvent): RunEvent {
  return { seq: stored.seq, type: stored.type, at: stored.at, data: JSON.parse(stored.data) };
}
