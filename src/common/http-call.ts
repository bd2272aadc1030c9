import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type FormData, interceptors, request } from 'undici';
import { parseStorableJson } from './storable-text';

/** A vendor's answer, its body read in full (the connection goes back to the pool before the caller looks). */
export interface HttpAnswer {
  status: number;
  ok: boolean;
  header(name: string): string | null;
  body: Buffer;
  /** The body parsed as JSON; null when it is not JSON. */
  json<T>(): T | null;
}

export interface HttpCallInit {
  method: string;
  headers?: Record<string, string>;
  body?: string | FormData;
  /** Limit for the answer's headers, and for each pause while its body arrives (default 30 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Keep-alive connections per origin; redirects followed as `fetch` would (short-lived download links may redirect). */
const dispatcher = new Agent().compose(interceptors.redirect({ maxRedirections: 5 }));

/** A read that meets a 5xx or a network failure is tried this many times in all, this far apart. */
const READ_ATTEMPTS = 2;
const READ_RETRY_DELAY_MS = 250;

/**
 * One HTTP call to a vendor API. undici's `request`, not `fetch`: the benchmarks showed `fetch`'s web-standard
 * layers (Request, Response, Headers, streams, an AbortSignal per call) costing about three times as much CPU per
 * call as the request itself. Network failures and timeouts reject; every HTTP status resolves.
 *
 * A read (GET) that meets a 5xx or a network failure is tried once more a moment later: a busy or restarting host
 * usually answers the second time, and without it one such answer fails the whole job (a write-back makes about
 * ten calls) and puts it back by seconds of backoff. Writes are never repeated here: whether one went through is
 * for its caller to find out (a create's sender searches for the task).
 */
export async function httpCall(url: string, init: HttpCallInit): Promise<HttpAnswer> {
  for (let attempt = 1; ; attempt++) {
    const again = init.method === 'GET' && attempt < READ_ATTEMPTS;
    try {
      const answer = await callOnce(url, init);
      if (!again || answer.status < 500) return answer;
    } catch (error) {
      if (!again) throw error;
    }
    await sleep(READ_RETRY_DELAY_MS);
  }
}

async function callOnce(url: string, init: HttpCallInit): Promise<HttpAnswer> {
  const response = await request(url, {
    method: init.method,
    headers: init.headers,
    body: init.body,
    headersTimeout: init.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    bodyTimeout: init.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    dispatcher,
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  const { headers, statusCode } = response;
  return {
    status: statusCode,
    ok: statusCode >= 200 && statusCode < 300,
    header: (name) => {
      const value = headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
    body,
    json: <T>() => {
      try {
        return parseStorableJson(body.toString('utf8')) as T;
      } catch {
        return null;
      }
    },
  };
}
