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

/** Calls the app's /api with a fresh signed token from Pipedrive on every request. */
export function createApi(token: () => Promise<string>): Api {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`/api${path}`, {
        method,
        headers: {
          authorization: `Bearer ${await token()}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiFailure(0, 'network', 'Could not reach the DottedSign app. Check your connection and try again.');
    }
    const payload = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string; details?: FieldProblem[] } } | null;
    if (response.ok) return payload as T;
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
