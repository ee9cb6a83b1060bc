/** What a replay store answers for one `jti`. */
export type ReplayVerdict = "fresh" | "replayed" | "full";

/**
 * Where accepted `jti`s are kept until they expire. The default is in memory, per process:
 * behind several processes or machines, a token replayed to another one is not seen. Plug
 * in a shared store (Redis `SET jti 1 NX EXAT expiresAt`, a database with a unique key…)
 * to refuse those too.
 */
export interface ReplayStore {
  /**
   * Records `jti` until `expiresAt` (Unix seconds; the verifier adds its clock tolerance).
   * `now` is the verifier's clock, in Unix seconds. Answers `"fresh"` the first time,
   * `"replayed"` when `jti` is already held, `"full"` when it cannot hold another entry.
   * Must check and record in one step, so that two concurrent requests cannot both be fresh.
   */
  remember(jti: string, expiresAt: number, now: number): ReplayVerdict | Promise<ReplayVerdict>;
}

/**
 * A bounded in-memory replay cache. Each `jti` is held until it expires, never evicted
 * earlier: when `maxEntries` unexpired tokens are held, new ones are refused
 * (`replay_cache_full`) rather than letting an older one be replayed. Size it for the
 * origin's peak rate times the assertion's lifetime (60 s plus the clock tolerance).
 */
export class MemoryReplayCache implements ReplayStore {
  readonly maxEntries: number;
  /** jti → the second it expires. */
  readonly #held = new Map<string, number>();
  /** Expiry second → the jtis expiring then; `#seconds` keeps those seconds sorted. */
  readonly #byExpiry = new Map<number, string[]>();
  readonly #seconds: number[] = [];

  constructor(maxEntries = 100_000) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError("maxEntries must be a positive integer");
    }
    this.maxEntries = maxEntries;
  }

  /** How many `jti`s are held now (expired ones included until the next call purges them). */
  get size(): number {
    return this.#held.size;
  }

  remember(jti: string, expiresAt: number, now: number): ReplayVerdict {
    this.#purge(now);
    if (this.#held.has(jti)) return "replayed";
    if (this.#held.size >= this.maxEntries) return "full";
    const second = Math.ceil(expiresAt);
    this.#held.set(jti, second);
    let bucket = this.#byExpiry.get(second);
    if (!bucket) {
      bucket = [];
      this.#byExpiry.set(second, bucket);
      // Tokens arrive roughly in expiry order: usually this appends.
      let i = this.#seconds.length;
      while (i > 0 && this.#seconds[i - 1]! > second) i--;
      this.#seconds.splice(i, 0, second);
    }
    bucket.push(jti);
    return "fresh";
  }

  /** Drops every entry whose expiry second has passed. */
  #purge(now: number): void {
    while (this.#seconds.length > 0 && this.#seconds[0]! < now) {
      const second = this.#seconds.shift()!;
      for (const jti of this.#byExpiry.get(second) ?? []) this.#held.delete(jti);
      this.#byExpiry.delete(second);
    }
  }
}
