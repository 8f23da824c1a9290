/** What one REST call returned (status, headers, body text); `status` 0 = no answer. */
export interface RestAnswer {
  status: number;
  headers: Headers;
  body: string;
  error?: string;
}

/**
 * One HTTP request to a node's REST API with a short deadline. Never rejects: a refused or timed
 * out request is `status: 0` with the reason in `error`.
 */
export async function rest(
  baseUrl: string,
  method: string,
  path: string,
  opts: { auth?: { username: string; password: string }; body?: unknown; timeoutMs?: number } = {},
): Promise<RestAnswer> {
  const headers: Record<string, string> = {};
  if (opts.auth) headers.authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 3000),
    });
    const text = method === 'HEAD' ? '' : await res.text();
    return { status: res.status, headers: res.headers, body: text };
  } catch (e) {
    return { status: 0, headers: new Headers(), body: '', error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/** GET /patroni parsed, or null when the node does not answer with JSON. */
export async function patroniStatus(baseUrl: string): Promise<Record<string, unknown> | null> {
  const r = await rest(baseUrl, 'GET', '/patroni');
  if (r.status !== 200) return null;
  try {
    return JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    return null;
  }
}
