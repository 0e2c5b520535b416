/**
 * The core's bounded buffer: a ring of preallocated slots that `offer` fills in O(1) without
 * allocating, and that the drain empties in batches. When it is full an entry is dropped and
 * counted (never silently); after `close` every offer is dropped and counted.
 *
 * One thread owns a ring: the request path offers, the drain (a timer or a fiber on the same
 * thread) takes. `onAvailable` is called when the ring goes from empty to non-empty, and when it
 * reaches `wakeAt` entries, so that a drain can sleep until there is work.
 */
import type { LoggedRequest } from "./LoggedRequest.ts"

export interface RingCounters {
  /** Entries taken into the ring. */
  readonly accepted: number
  /** Entries refused: the ring was full, or closed. */
  readonly dropped: number
  /** Entries in the ring now. */
  readonly buffered: number
}

export class RequestRing {
  private readonly slots: Array<LoggedRequest | undefined>
  private readonly mask: number
  private head = 0
  private tail = 0
  private closed = false
  accepted = 0
  dropped = 0
  /** Called on the first entry after empty, and when `wakeAt` entries are buffered. */
  onAvailable: (() => void) | undefined = undefined

  /** A ring of at least `capacity` slots (rounded up to a power of two). */
  constructor(
    capacity: number,
    private readonly wakeAt: number = Number.POSITIVE_INFINITY,
  ) {
    let size = 16
    while (size < capacity) size *= 2
    this.slots = new Array<LoggedRequest | undefined>(size).fill(undefined)
    this.mask = size - 1
  }

  get capacity(): number {
    return this.slots.length
  }

  get size(): number {
    return this.tail - this.head
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Takes the entry, or drops and counts it; `false` when dropped. */
  offer(entry: LoggedRequest): boolean {
    const n = this.tail - this.head
    if (this.closed || n === this.slots.length) {
      this.dropped += 1
      return false
    }
    this.slots[this.tail & this.mask] = entry
    this.tail += 1
    this.accepted += 1
    if ((n === 0 || n + 1 === this.wakeAt) && this.onAvailable !== undefined) this.onAvailable()
    return true
  }

  /** Removes and returns up to `max` entries, oldest first. */
  take(max: number): Array<LoggedRequest> {
    const n = Math.min(max, this.tail - this.head)
    const out = new Array<LoggedRequest>(n)
    for (let i = 0; i < n; i++) {
      const slot = this.head & this.mask
      out[i] = this.slots[slot]!
      this.slots[slot] = undefined
      this.head += 1
    }
    return out
  }

  /** Refuses (and counts) every later offer; what is buffered stays to be taken. */
  close(): void {
    this.closed = true
  }

  counters(): RingCounters {
    return { accepted: this.accepted, dropped: this.dropped, buffered: this.size }
  }
}
