/**
 * Process-wide shared data (key → bytes + CAS) and shared queues, as proxy-wasm hosts keep them
 * for all VMs of one process. Pass one instance to every plugin (`HostEnvironment.shared`).
 */
import type { SharedState, SharedQueueOwner } from './types.js';

interface Queue {
  vmId: string;
  name: string;
  owner: SharedQueueOwner;
  items: Uint8Array[];
}

/** In-memory {@link SharedState}. CAS values are global and strictly increasing. */
export class InMemorySharedState implements SharedState {
  private readonly data = new Map<string, { value: Uint8Array; cas: number }>();
  private readonly queues = new Map<number, Queue>();
  private readonly queueByName = new Map<string, number>();
  private nextCas = 1;
  private nextQueueId = 1;

  /** Value and CAS of a key, undefined when absent. */
  get(key: string): { value: Uint8Array; cas: number } | undefined {
    return this.data.get(key);
  }

  /** Stores a copy; `cas` 0 = unconditional, otherwise it must match (an absent key always matches). */
  set(key: string, value: Uint8Array, cas: number): boolean {
    const cur = this.data.get(key);
    if (cur && cas !== 0 && cas !== cur.cas) return false;
    this.data.set(key, { value: value.slice(), cas: this.nextCas++ });
    return true;
  }

  /** All keys (for the emulator and admin views). */
  keys(): string[] { return [...this.data.keys()]; }

  /** Registers queue `name` of VM id `vmId` (re-registering re-owns it and keeps its id). */
  registerQueue(vmId: string, name: string, owner: SharedQueueOwner): number {
    const key = `${vmId}\u0000${name}`;
    const existing = this.queueByName.get(key);
    if (existing !== undefined) {
      this.queues.get(existing)!.owner = owner;
      return existing;
    }
    const id = this.nextQueueId++;
    this.queues.set(id, { vmId, name, owner, items: [] });
    this.queueByName.set(key, id);
    return id;
  }

  /** Id of a registered queue, undefined when none. */
  resolveQueue(vmId: string, name: string): number | undefined {
    return this.queueByName.get(`${vmId}\u0000${name}`);
  }

  /** Appends a copy and tells the owner after the current callback; false for an unknown id. */
  enqueue(id: number, value: Uint8Array): boolean {
    const q = this.queues.get(id);
    if (!q) return false;
    q.items.push(value.slice());
    const owner = q.owner;
    // Delivered after the enqueuing callback returns, as hosts post it to the owner's thread.
    queueMicrotask(() => owner.queueReady(id));
    return true;
  }

  /** Oldest item; undefined = unknown queue, `{}` = empty. */
  dequeue(id: number): { value?: Uint8Array } | undefined {
    const q = this.queues.get(id);
    if (!q) return undefined;
    const value = q.items.shift();
    return value ? { value } : {};
  }
}
