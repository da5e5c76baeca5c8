// Browser storage that never throws (private mode, full quota, a WebView with storage off): the app works, it just forgets.
export function readJson<T>(store: Storage | undefined, key: string): T | undefined {
  try {
    const raw = store?.getItem(key);
    return raw ? (JSON.parse(raw) as T) : undefined;
  } catch {
    return undefined;
  }
}

export function writeJson(store: Storage | undefined, key: string, value: unknown): void {
  try {
    if (value === undefined) store?.removeItem(key);
    else store?.setItem(key, JSON.stringify(value));
  } catch {
    /* storage unavailable: keep going without it */
  }
}

export const local: Storage | undefined = typeof localStorage === 'undefined' ? undefined : localStorage;
export const perTab: Storage | undefined = typeof sessionStorage === 'undefined' ? undefined : sessionStorage;

/** base64url of `bytes` random bytes from the platform's CSPRNG. */
export function randomId(bytes: number): string {
  const b = new Uint8Array(bytes);
  crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
