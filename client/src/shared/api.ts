export interface FieldProblem {
  field: string;
  message: string;
}

/** An API answer that was not a success, carrying the server's own message (shown to the user as is). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldProblem[] = [],
  ) {
    super(message);
  }
}

export type Api = <T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) => Promise<T>;

/**
 * Calls the app's /api with Pipedrive's signed token. A token the server refuses (401: expired sooner than this
 * machine's clock said) is replaced by a fresh one and the call made once more.
 */
export function createApi(token: (fresh?: boolean) => Promise<string>): Api {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const call = async (fresh: boolean) => {
      try {
        return await fetch(`/api${path}`, {
          method,
          headers: {
            authorization: `Bearer ${await token(fresh)}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          cache: 'no-store',
        });
      } catch {
        throw new ApiFailure(0, 'network', 'Could not reach the DottedSign app. Check your connection and try again.');
      }
    };
    let response = await call(false);
    if (response.status === 401) response = await call(true);
    const payload = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string; details?: FieldProblem[] } } | null;
    if (response.ok) return payload as T;
    if (response.status === 401) throw new ApiFailure(401, 'unauthorized', 'Pipedrive could not confirm who you are. Reload the page and try again.');
    const error = payload?.error;
    throw new ApiFailure(
      response.status,
      error?.code ?? 'http_error',
      error?.message ?? `The DottedSign app answered HTTP ${response.status} ${response.statusText}`.trim(),
      Array.isArray(error?.details) ? error.details : [],
    );
  };
}

/** What to tell the user about any failure. */
export function messageOf(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  return 'Something unexpected happened in the DottedSign app. Reload the page and try again.';
}
