// @ts-check
/**
 * Pipedrive's side of the app-extensions SDK protocol (@pipedrive/app-extensions-sdk 0.15), for a page that
 * embeds an app's panel or settings page in an iframe: the browser tests' host page and the sandbox console.
 * Plain browser ES module, no build step.
 *
 *   import { mountExtension, extensionUrl } from '/extension-host.js';
 *   const host = mountExtension({
 *     iframe,                                   // an <iframe> already in the document
 *     url: extensionUrl('http://127.0.0.1:3000/panel', { token, companyId, userId, dealId }),
 *     getSignedToken: () => fetch('/token').then((r) => r.text()),   // answers GET_SIGNED_TOKEN
 *     theme: 'light',
 *     onSnackbar: (message, link) => …, onRedirect: (view, params) => …, onResize: (height) => …,
 *     onConfirm: async ({ title, description, okText, cancelText }) => true,   // default: window.confirm
 *   });
 *   host.setTheme('dark'); host.setVisible(false); host.destroy();
 *
 * The protocol, as the SDK's dist/index.js implements it: the iframe posts `{ id, payload }` to its parent;
 * `id` is the `id` query parameter of the iframe URL. `payload.type` is
 *   - 'command': `{ command, args }` with a MessageChannel port; the host answers on that port with
 *     `{ data }` or `{ error }`. The first command must be 'initialize' (`args.size.height` optional).
 *   - 'listener': `{ event }` with a port that stays open; the host posts `{ data }` on it whenever the event
 *     happens ('visibility' → `{ is_visible, context }`, 'user_settings_change' → `{ theme }`).
 *   - 'track': `{ event: 'focused' }`, no answer.
 */

/** @typedef {'light' | 'dark'} Theme */
/**
 * @typedef {object} ConfirmRequest
 * @property {string} title
 * @property {string} [description]
 * @property {string} [okText]
 * @property {string} [cancelText]
 * @property {string} [okColor]
 */
/**
 * @typedef {object} MountOptions
 * @property {HTMLIFrameElement} iframe
 * @property {string} url the iframe URL; `id` (the SDK identifier) and `theme` are added unless present
 * @property {() => Promise<string>} getSignedToken a fresh extension JWT for GET_SIGNED_TOKEN
 * @property {Theme} [theme]
 * @property {(message: string, link?: { url: string, label: string }) => void} [onSnackbar]
 * @property {(view: string, params: { id?: string | number, context?: Record<string, unknown> }) => void} [onRedirect]
 * @property {(height: number) => void} [onResize] called with the clamped height the iframe now has
 * @property {(request: ConfirmRequest) => Promise<boolean> | boolean} [onConfirm]
 * @property {(modal: Record<string, unknown>) => Promise<{ status: 'closed' | 'submitted', id?: number }>} [onOpenModal]
 * @property {(command: string, args: unknown) => void} [onCommand] sees every command (logging, tests)
 * @property {() => void} [onInitialized]
 * @property {() => void} [onInitTimeout] the page did not initialise in time (Pipedrive then hides it)
 * @property {number} [initTimeoutMs] default 10000, as Pipedrive
 * @property {{ min: number, max: number }} [heightLimits] default 100–750 px, as for a deal panel
 * @property {number} [initialHeight] iframe height before the page asks for one (default: the minimum);
 *   a settings page fills the screen in Pipedrive, so give it the space available
 */
/**
 * @typedef {object} ExtensionHandle
 * @property {(theme: Theme) => void} setTheme sends 'user_settings_change'
 * @property {(visible: boolean) => void} setVisible sends 'visibility' (invoker 'user')
 * @property {() => boolean} isInitialized
 * @property {string} identifier
 * @property {() => void} destroy stops listening and closes the event ports
 */

/**
 * Builds an iframe URL with the query Pipedrive adds to a deal panel (`selectedIds` is the deal id).
 * @param {string} base
 * @param {{ token: string, companyId: number | string, userId: number | string, dealId?: number | string, theme?: Theme }} params
 */
export function extensionUrl(base, params) {
  const url = new URL(base, location.href);
  url.searchParams.set('token', params.token);
  url.searchParams.set('userId', String(params.userId));
  url.searchParams.set('companyId', String(params.companyId));
  if (params.dealId !== undefined) {
    url.searchParams.set('resource', 'deal');
    url.searchParams.set('view', 'details');
    url.searchParams.set('selectedIds', String(params.dealId));
  }
  if (params.theme) url.searchParams.set('theme', params.theme);
  return url.toString();
}

/**
 * Loads `url` into `iframe` and answers its SDK.
 * @param {MountOptions} options
 * @returns {ExtensionHandle}
 */
export function mountExtension(options) {
  const { iframe } = options;
  const limits = options.heightLimits ?? { min: 100, max: 750 };
  let theme = options.theme ?? 'light';
  let initialized = false;

  const url = new URL(options.url, location.href);
  const identifier = url.searchParams.get('id') ?? `ext-${Math.random().toString(36).slice(2, 10)}`;
  url.searchParams.set('id', identifier);
  if (!url.searchParams.has('theme')) url.searchParams.set('theme', theme);
  const origin = url.origin;

  /** @type {Map<string, MessagePort[]>} */
  const listeners = new Map();

  /** @param {number} height */
  const resize = (height) => {
    const clamped = Math.round(Math.min(limits.max, Math.max(limits.min, Number(height) || limits.min)));
    iframe.style.height = `${clamped}px`;
    options.onResize?.(clamped);
  };

  /** @param {string} command @param {any} args @returns {Promise<unknown>} */
  const execute = async (command, args) => {
    switch (command) {
      case 'initialize':
        initialized = true;
        clearTimeout(initTimer);
        if (args?.size?.height) resize(args.size.height);
        options.onInitialized?.();
        return undefined;
      case 'resize':
        if (args?.height !== undefined) resize(args.height);
        return undefined;
      case 'get_signed_token':
        return { token: await options.getSignedToken() };
      case 'show_snackbar':
        options.onSnackbar?.(String(args?.message ?? ''), args?.link);
        return undefined;
      case 'show_confirmation': {
        const confirmed = options.onConfirm ? await options.onConfirm(args) : window.confirm([args?.title, args?.description].filter(Boolean).join('\n\n'));
        return { confirmed: Boolean(confirmed) };
      }
      case 'redirect_to':
        options.onRedirect?.(String(args?.view), { id: args?.id, context: args?.context });
        return undefined;
      case 'open_modal':
        return options.onOpenModal ? options.onOpenModal(args) : { status: 'closed' };
      case 'close_modal':
      case 'show_floating_window':
      case 'hide_floating_window':
      case 'set_notification':
      case 'set_focus_mode':
        return undefined;
      case 'get_metadata':
        return { windowHeight: window.innerHeight, windowWidth: window.innerWidth };
      default:
        throw new Error(`Unsupported command: ${command}`);
    }
  };

  /** @param {MessageEvent} event */
  const onMessage = (event) => {
    if (event.source !== iframe.contentWindow || event.origin !== origin) return;
    const message = event.data;
    if (!message || message.id !== identifier || typeof message.payload !== 'object') return;
    const { payload } = message;
    const [port] = event.ports;
    if (payload.type === 'command' && port) {
      options.onCommand?.(payload.command, payload.args);
      const answer = initialized || payload.command === 'initialize' ? execute(payload.command, payload.args) : Promise.reject(new Error('SDK is not initialized'));
      answer.then(
        (data) => port.postMessage({ data }),
        (error) => port.postMessage({ error: error instanceof Error ? error.message : String(error) }),
      );
    } else if (payload.type === 'listener' && port) {
      const ports = listeners.get(payload.event) ?? [];
      ports.push(port);
      listeners.set(payload.event, ports);
    }
  };

  /** @param {string} name @param {unknown} data */
  const emit = (name, data) => {
    for (const port of listeners.get(name) ?? []) port.postMessage({ data });
  };

  window.addEventListener('message', onMessage);
  const initTimer = setTimeout(() => {
    if (!initialized) options.onInitTimeout?.();
  }, options.initTimeoutMs ?? 10000);
  iframe.style.height = `${options.initialHeight ?? limits.min}px`;
  iframe.src = url.toString();

  return {
    identifier,
    isInitialized: () => initialized,
    setTheme(next) {
      theme = next;
      emit('user_settings_change', { theme });
    },
    setVisible(visible) {
      emit('visibility', { is_visible: visible, context: { invoker: 'user' } });
    },
    destroy() {
      clearTimeout(initTimer);
      window.removeEventListener('message', onMessage);
      for (const ports of listeners.values()) ports.forEach((port) => port.close());
      listeners.clear();
    },
  };
}
