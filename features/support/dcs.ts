/**
 * Read-only view of the cluster's etcd keys through etcd's JSON gateway (`/v3/kv/range`), with a
 * deadline on every call so that a suspended etcd makes a step fail or retry, never hang.
 */
export class DcsView {
  constructor(
    private readonly endpoint: string,
    readonly prefix: string,
  ) {}

  private async range(key: string, prefix: boolean): Promise<Array<{ key: string; value: string }>> {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const body: Record<string, string> = { key: b64(key) };
    if (prefix) {
      // range_end = key with its last byte incremented: every key starting with `key`
      const buf = Buffer.from(key);
      buf[buf.length - 1] = (buf[buf.length - 1] ?? 0) + 1;
      body.range_end = buf.toString('base64');
    }
    const res = await fetch(`${this.endpoint}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(2000),
    });
    if (!res.ok) throw new Error(`etcd range ${key}: HTTP ${res.status}`);
    const json = (await res.json()) as { kvs?: Array<{ key: string; value?: string }> };
    return (json.kvs ?? []).map((kv) => ({
      key: Buffer.from(kv.key, 'base64').toString(),
      value: Buffer.from(kv.value ?? '', 'base64').toString(),
    }));
  }

  /** Value of `<prefix><name>` or null when absent. */
  async get(name: string): Promise<string | null> {
    const kvs = await this.range(this.prefix + name, false);
    return kvs[0]?.value ?? null;
  }

  /** Holder of the leader key, or null when nobody holds it. */
  async leader(): Promise<string | null> {
    return this.get('leader');
  }

  /** Parsed `members/<name>` value, or null when the member key is absent. */
  async member(name: string): Promise<Record<string, unknown> | null> {
    const v = await this.get(`members/${name}`);
    return v === null ? null : (JSON.parse(v) as Record<string, unknown>);
  }

  /** Every key under the cluster prefix with its value (for failure reports). */
  async dump(): Promise<string> {
    const kvs = await this.range(this.prefix, true);
    return kvs.map((kv) => `${kv.key} = ${kv.value}`).join('\n');
  }
}
