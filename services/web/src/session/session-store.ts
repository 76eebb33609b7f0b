/**
 * Where the access token lives: in memory, mirrored to sessionStorage so a reload of the tab
 * keeps the user signed in (and a new tab, or closing this one, does not). Never in
 * localStorage, never in a URL. The HttpOnly cookie the login also sets is the server's to
 * manage; the app cannot read it.
 */

const STORAGE_KEY = "taskflow.session";

interface StoredSession {
  token: string;
  /** Epoch milliseconds after which the token is refused. */
  expiresAt: number;
}

/** Why the session ended: the user signed out, or the API refused the token (401). */
export type SessionEndReason = "signed-out" | "expired";

type Listener = (reason: SessionEndReason) => void;

function read(): StoredSession | undefined {
  try {
    const raw = globalThis.sessionStorage?.getItem(STORAGE_KEY);
    if (!raw) return undefined;
    const parsed = JSON.parse(raw) as Partial<StoredSession>;
    if (typeof parsed.token !== "string" || typeof parsed.expiresAt !== "number") return undefined;
    return { token: parsed.token, expiresAt: parsed.expiresAt };
  } catch {
    return undefined;
  }
}

function write(session: StoredSession | undefined) {
  try {
    if (session) globalThis.sessionStorage?.setItem(STORAGE_KEY, JSON.stringify(session));
    else globalThis.sessionStorage?.removeItem(STORAGE_KEY);
  } catch {
    // Storage refused (private mode, quota): the session lives in memory only.
  }
}

let current: StoredSession | undefined;
let loaded = false;
const listeners = new Set<Listener>();

function session(): StoredSession | undefined {
  if (!loaded) {
    current = read();
    loaded = true;
  }
  return current;
}

export const sessionStore = {
  /** The access token, or undefined when there is none or it has expired. */
  token(): string | undefined {
    const s = session();
    return s && s.expiresAt > Date.now() ? s.token : undefined;
  },

  save(token: string, expiresInSeconds: number) {
    current = { token, expiresAt: Date.now() + expiresInSeconds * 1000 };
    loaded = true;
    write(current);
  },

  /** Forgets the token and tells the listeners why. */
  end(reason: SessionEndReason) {
    const had = session() !== undefined;
    current = undefined;
    loaded = true;
    write(undefined);
    if (had) for (const listener of listeners) listener(reason);
  },

  /** Called when the session ends (once per session). */
  onEnd(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },

  /** Tests: forget everything, listeners included. */
  reset() {
    current = undefined;
    loaded = false;
    listeners.clear();
    write(undefined);
  },
};
