// A bounded in-process map whose entries expire after a fixed time on the context's clock.

/**
 * Entries live `ttlMs` from when they were stored, measured on the clock the caller passes (the
 * context's, so tests move it by hand); at most `maxEntries` are kept, the oldest stored going
 * first. A value stamped in the future (the clock was set back) counts as expired.
 */
export class TtlCache<V> {
  private readonly m = new Map<string, { value: V; storedAtMs: number }>();
  private readonly loading = new Map<string, Promise<V>>();

  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
  ) {
    if (!Number.isInteger(ttlMs) || ttlMs < 0) throw new Error('ttlMs must be a whole number of ms ≥ 0');
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error('maxEntries must be ≥ 1');
  }

  get size(): number {
    return this.m.size;
  }

  get(key: string, nowMs: number): V | undefined {
    const e = this.m.get(key);
    if (!e) return undefined;
    const age = nowMs - e.storedAtMs;
    if (age < 0 || age >= this.ttlMs) {
      this.m.delete(key);
      return undefined;
    }
    return e.value;
  }

  /**
   * The cached value, or `load()`'s, stored when it resolves. Concurrent misses of one key share a
   * single load; a failed load stores nothing (errors are never cached).
   */
  getOrLoad(key: string, nowMs: number, load: () => Promise<V>): V | Promise<V> {
    const hit = this.get(key, nowMs);
    if (hit !== undefined) return hit;
    let p = this.loading.get(key);
    if (!p) {
      p = load()
        .then((v) => {
          this.set(key, v, nowMs);
          return v;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  set(key: string, value: V, nowMs: number): void {
    if (this.ttlMs === 0) return;
    this.m.delete(key);
    this.m.set(key, { value, storedAtMs: nowMs });
    while (this.m.size > this.maxEntries) this.m.delete(this.m.keys().next().value as string);
  }

  delete(key: string): void {
    this.m.delete(key);
  }

  /** Drops every entry whose key starts with `prefix` (rare events: a freeze, an unbinding seen here). */
  deletePrefix(prefix: string): void {
    for (const k of this.m.keys()) if (k.startsWith(prefix)) this.m.delete(k);
  }

  clear(): void {
    this.m.clear();
  }
}
