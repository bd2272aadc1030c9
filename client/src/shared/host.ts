import AppExtensionsSDK, { Color, Command, Event, View } from '@pipedrive/app-extensions-sdk';

export type Theme = 'light' | 'dark';

/** Pipedrive's side of the page: the initialised SDK and the few commands and events the app uses. */
export interface Host {
  /** A token from GET_SIGNED_TOKEN, cached while valid; `fresh` asks Pipedrive for a new one (the server refused the cached one). */
  signedToken(fresh?: boolean): Promise<string>;
  snackbar(message: string): void;
  confirm(options: { title: string; description: string; okText: string; cancelText?: string; danger?: boolean }): Promise<boolean>;
  openSettings(): void;
  onVisibility(listener: (visible: boolean) => void): void;
  /** Keeps the iframe as tall as `content` (Pipedrive allows 100–750 px). */
  fitHeight(content: HTMLElement): void;
}

const MIN_HEIGHT = 100;
const MAX_HEIGHT = 750;

export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  document.documentElement.style.colorScheme = theme;
}

/**
 * When to stop using a token received now: its lifetime (`exp - iat`, read from the JWT; only the server verifies
 * it) counted from its arrival on this machine's clock, so a clock minutes off does not keep an expired token.
 */
function usableUntil(token: string): number {
  try {
    const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: number; iat?: number };
    if (typeof claims.exp === 'number' && typeof claims.iat === 'number') return Date.now() + (claims.exp - claims.iat) * 1000 - 30_000;
  } catch {
    // not a JWT we can read: fall through to a short cache
  }
  return Date.now() + 60_000;
}

/** Initialises the SDK at once: Pipedrive drops an extension that has not done so within 10 seconds. */
async function connectHost(): Promise<Host> {
  const sdk = new AppExtensionsSDK();
  applyTheme(sdk.userSettings.theme === 'dark' ? 'dark' : 'light');
  await sdk.initialize();
  sdk.listen(Event.USER_SETTINGS_CHANGE, ({ data }) => {
    if (data?.theme) applyTheme(data.theme === 'dark' ? 'dark' : 'light');
  });

  let cached: { token: string; until: number } | null = null;
  let pending: Promise<string> | null = null;
  const signedToken = (fresh = false): Promise<string> => {
    if (fresh) cached = null;
    if (cached && cached.until > Date.now()) return Promise.resolve(cached.token);
    pending ??= sdk
      .execute(Command.GET_SIGNED_TOKEN)
      .then(({ token }) => {
        cached = { token, until: usableUntil(token) };
        return token;
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  };

  return {
    signedToken,
    snackbar: (message) => void sdk.execute(Command.SHOW_SNACKBAR, { message }),
    confirm: async ({ title, description, okText, cancelText = 'Cancel', danger }) => {
      const { confirmed } = await sdk.execute(Command.SHOW_CONFIRMATION, { title, description, okText, cancelText, okColor: danger ? Color.NEGATIVE : Color.PRIMARY });
      return confirmed;
    },
    openSettings: () => void sdk.execute(Command.REDIRECT_TO, { view: View.SETTINGS }),
    onVisibility: (listener) => {
      // Visible means: Pipedrive shows the panel (VISIBILITY) and the browser tab is in front.
      let shown = true;
      const report = () => listener(shown && document.visibilityState === 'visible');
      sdk.listen(Event.VISIBILITY, ({ data }) => {
        if (!data) return;
        shown = Boolean(data.is_visible);
        report();
      });
      document.addEventListener('visibilitychange', report);
    },
    fitHeight: (content) => {
      let last = 0;
      new ResizeObserver(() => {
        const height = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, Math.ceil(content.getBoundingClientRect().height)));
        if (height === last) return;
        last = height;
        void sdk.execute(Command.RESIZE, { height });
      }).observe(content);
    },
  };
}

/** The SDK host, or null after saying so in `root` when the page is opened outside Pipedrive (no host answers). */
export async function connectInPipedrive(root: HTMLElement): Promise<Host | null> {
  try {
    return await connectHost();
  } catch (error) {
    root.textContent = `Open this page from Pipedrive. (${error instanceof Error ? error.message : String(error)})`;
    root.className += ' standalone';
    return null;
  }
}
