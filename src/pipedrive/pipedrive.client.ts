import { Inject, Injectable, Logger } from '@nestjs/common';
import { FormData } from 'undici';
import { type HttpAnswer, type HttpCallInit, httpCall } from '../common/http-call';
import { rateLimitWaitMs } from '../common/rate-limit-wait';
import { type AppConfig, CONFIG } from '../config/app-config';
import { PipedriveApiError, PipedriveRateLimitedError } from './pipedrive.errors';
import type { PipedriveDeal, PipedriveFile, PipedrivePerson, PipedriveUser, PipedriveWebhook, TokenSet } from './pipedrive.types';

/** Where a call gets its bearer token, and how it gets a fresh one after a 401. */
export interface TokenSource {
  current(): Promise<{ accessToken: string; apiDomain: string }>;
  refreshAfterRejection(rejectedToken: string): Promise<{ accessToken: string; apiDomain: string }>;
}

interface Envelope<T> {
  success: boolean;
  data: T;
  additional_data?: { next_cursor?: unknown; pagination?: { more_items_in_collection?: unknown; next_start?: unknown } } | null;
  error?: string;
  error_info?: string;
}

/** Waiting longer than this inside a request is worse than handing the job back with a retry time. */
const MAX_IN_PROCESS_WAIT_MS = 10_000;
const MAX_RATE_LIMIT_WAITS = 3;
/** The longest a token waits after repeated 429s: one probe an hour while a company's daily budget is spent. */
const MAX_RATE_LIMIT_BACKOFF_MS = 3600_000;
/** A deal's files or notes, read whole: 50 pages is 5,000 files or 25,000 notes. */
const MAX_LIST_PAGES = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function optionalNumber(value: unknown): number | null {
  return value === null || value === undefined || value === '' ? null : Number(value);
}

/**
 * The one place that knows Pipedrive's hosts, paths, headers and JSON. OAuth token calls, the REST API
 * (v2 deals and persons, v1 users, files, notes, webhooks), 401 → refresh → retry once, and the rate limits
 * read from `x-ratelimit-*` headers.
 */
@Injectable()
export class PipedriveClient {
  private readonly logger = new Logger(PipedriveClient.name);
  /** Per token: no call before this time (the burst window said remaining 0, or a 429 said wait). */
  private readonly blockedUntil = new Map<string, number>();
  /**
   * Per token: 429s in a row with no other answer between them, and when the last one came. A spent daily budget
   * answers 429 all day with the burst window's headers (a reset of about 2 s), so each such 429 doubles the wait.
   */
  private readonly strikes = new Map<string, { count: number; at: number }>();

  constructor(@Inject(CONFIG) private readonly config: AppConfig) {}

  get authorizeUrl(): string {
    return `${this.config.pipedrive.oauthUrl}/oauth/authorize`;
  }

  get tokenUrl(): string {
    return `${this.config.pipedrive.oauthUrl}/oauth/token`;
  }

  get basicClientAuth(): string {
    const { clientId, clientSecret } = this.config.pipedrive;
    return `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
  }

  /** Pipedrive sends `expires_in` as a number or a string, and `scope` as a comma list. */
  parseTokenResponse(body: Record<string, unknown>): TokenSet {
    const accessToken = body.access_token;
    const refreshToken = body.refresh_token;
    const apiDomain = body.api_domain;
    if (typeof accessToken !== 'string' || typeof refreshToken !== 'string' || typeof apiDomain !== 'string') {
      throw new PipedriveApiError('Pipedrive token response is missing access_token, refresh_token or api_domain', null, false);
    }
    const expiresIn = Number(body.expires_in);
    return {
      accessToken,
      refreshToken,
      apiDomain: apiDomain.replace(/\/+$/, ''),
      expiresAt: new Date(Date.now() + (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600) * 1000),
      scopes: String(body.scope ?? '')
        .split(/[,\s]+/)
        .filter(Boolean),
    };
  }

  async refreshTokens(refreshToken: string): Promise<TokenSet> {
    const response = await this.send(this.tokenUrl, {
      method: 'POST',
      headers: { authorization: this.basicClientAuth, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
    });
    const body = response.json<Record<string, unknown>>() ?? {};
    if (!response.ok) {
      const description = String(body.error_description ?? body.error ?? `HTTP ${response.status}`);
      // Only a refused grant ends the installation (uninstalled, revoked, unused for 60 days). A refused client is
      // the app's own set-up (a secret regenerated in Developer Hub, a wrong deployment): every installation would
      // be given up for it, so it and any other answer are retried until the set-up is mended.
      if (isRefusedGrant(body)) throw new PipedriveApiError(`token refresh failed: ${description}`, response.status, false);
      this.reportRefusedClient(body);
      throw new PipedriveApiError(`token refresh failed: ${description}`, response.status, true);
    }
    return this.parseTokenResponse(body);
  }

  /** Uninstalls the app for the refresh token's user. */
  async revoke(refreshToken: string): Promise<void> {
    const response = await this.send(`${this.config.pipedrive.oauthUrl}/oauth/revoke`, {
      method: 'POST',
      headers: { authorization: this.basicClientAuth, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }).toString(),
    });
    // 400: the token is no longer valid (the user uninstalled already), so nothing is left to revoke.
    if (response.ok || response.status === 400) return;
    const body = response.json<Record<string, unknown>>() ?? {};
    this.reportRefusedClient(body);
    throw new PipedriveApiError(`token revoke failed: ${String(body.error_description ?? body.error ?? `HTTP ${response.status}`)}`, response.status, response.status >= 500 || response.status === 429);
  }

  private reportRefusedClient(body: Record<string, unknown>): void {
    if (body.error === 'invalid_client') this.logger.error(`Pipedrive refuses the app's client credentials: check PIPEDRIVE_CLIENT_ID and PIPEDRIVE_CLIENT_SECRET`);
  }

  api(tokens: TokenSource): PipedriveApi {
    return new PipedriveApi(this, tokens);
  }

  /** One API call: bearer auth, 401 → refresh once, rate-limit waits, JSON envelope unwrapped. */
  async call<T>(tokens: TokenSource, method: string, path: string, body?: { json?: unknown; form?: FormData }): Promise<T> {
    return (await this.envelope<T>(tokens, method, path, body)).data;
  }

  /** A page of a v2 list: its items and the cursor of the next page (null on the last one). */
  async page<T>(tokens: TokenSource, path: string): Promise<{ items: T[]; nextCursor: string | null }> {
    const envelope = await this.envelope<T[] | null>(tokens, 'GET', path);
    const next = envelope.additional_data?.next_cursor;
    return { items: envelope.data ?? [], nextCursor: typeof next === 'string' && next !== '' ? next : null };
  }

  /** A page of a v1 list: its items and where the next page starts (null on the last one). */
  async offsetPage<T>(tokens: TokenSource, path: string): Promise<{ items: T[]; nextStart: number | null }> {
    const envelope = await this.envelope<T[] | null>(tokens, 'GET', path);
    const pagination = envelope.additional_data?.pagination;
    const next = pagination?.more_items_in_collection === true ? Number(pagination.next_start) : NaN;
    return { items: envelope.data ?? [], nextStart: Number.isInteger(next) && next > 0 ? next : null };
  }

  private async envelope<T>(tokens: TokenSource, method: string, path: string, body?: { json?: unknown; form?: FormData }): Promise<Envelope<T>> {
    let credentials = await tokens.current();
    let refreshed = false;
    for (let waits = 0; ; ) {
      await this.respectBlock(credentials.accessToken);
      const sentAt = Date.now();
      const headers: Record<string, string> = { authorization: `Bearer ${credentials.accessToken}`, accept: 'application/json' };
      if (body?.json !== undefined) headers['content-type'] = 'application/json';
      const response = await this.send(`${credentials.apiDomain}${path}`, {
        method,
        headers,
        body: body?.form ?? (body?.json === undefined ? undefined : JSON.stringify(body.json)),
      });
      const waitMs = this.noteRateLimit(credentials.accessToken, response, sentAt);
      if (response.status === 401 && !refreshed) {
        refreshed = true;
        credentials = await tokens.refreshAfterRejection(credentials.accessToken);
        continue;
      }
      if (response.status === 429) {
        if (waitMs <= MAX_IN_PROCESS_WAIT_MS && waits < MAX_RATE_LIMIT_WAITS) {
          waits += 1;
          this.logger.warn(`Pipedrive 429 on ${method} ${path}; waiting ${waitMs} ms`);
          await sleep(waitMs);
          continue;
        }
        throw new PipedriveRateLimitedError(new Date(Date.now() + waitMs));
      }
      const envelope = response.json<Envelope<T>>();
      if (!response.ok || !envelope || envelope.success === false) {
        const reason = envelope?.error ?? `HTTP ${response.status}`;
        throw new PipedriveApiError(`Pipedrive ${method} ${path}: ${reason}`, response.status, response.status >= 500);
      }
      return envelope;
    }
  }

  private async send(url: string, init: HttpCallInit): Promise<HttpAnswer> {
    try {
      return await httpCall(url, init);
    } catch (error) {
      throw new PipedriveApiError(`Pipedrive unreachable: ${(error as Error).message}`, null, true);
    }
  }

  private async respectBlock(token: string): Promise<void> {
    const until = this.blockedUntil.get(token);
    if (!until) return;
    const waitMs = until - Date.now();
    if (waitMs <= 0) {
      this.blockedUntil.delete(token);
      return;
    }
    if (waitMs > MAX_IN_PROCESS_WAIT_MS) throw new PipedriveRateLimitedError(new Date(until));
    await sleep(waitMs);
  }

  /**
   * Blocks the token for as long as the answer says (`x-ratelimit-reset`: seconds until the 2-second window resets),
   * and after repeated 429s for longer: 1, 2, 4 … seconds up to an hour, however short the reset. Returns the wait.
   */
  private noteRateLimit(token: string, response: HttpAnswer, sentAt: number): number {
    const now = Date.now();
    if (response.status !== 429) {
      this.strikes.delete(token);
      const remaining = optionalNumber(response.header('x-ratelimit-remaining'));
      if (remaining === 0) this.blockedUntil.set(token, now + this.resetMs(response));
      return 0;
    }
    const last = this.strikes.get(token);
    // A 429 to a call sent before the last one was seen belongs to the same burst: it does not count again. (Calls
    // sent together after a wait can still count once more before their successes arrive: a wait of 2 s, not 2.)
    const count = !last ? 1 : sentAt > last.at ? last.count + 1 : last.count;
    this.strikes.set(token, { count, at: now });
    const waitMs = Math.max(this.resetMs(response), Math.min(MAX_RATE_LIMIT_BACKOFF_MS, 1000 * 2 ** (count - 1)));
    this.blockedUntil.set(token, Math.max(this.blockedUntil.get(token) ?? 0, now + waitMs));
    return waitMs;
  }

  private resetMs(response: HttpAnswer): number {
    return rateLimitWaitMs([response.header('x-ratelimit-reset'), response.header('retry-after')], { fallbackMs: 2000, minMs: 250 });
  }
}

/** Typed calls for one installation's token. */
export class PipedriveApi {
  constructor(
    private readonly client: PipedriveClient,
    private readonly tokens: TokenSource,
  ) {}

  async me(): Promise<PipedriveUser> {
    const data = await this.client.call<Record<string, unknown>>(this.tokens, 'GET', '/api/v1/users/me');
    return {
      id: Number(data.id),
      name: String(data.name ?? ''),
      email: String(data.email ?? ''),
      companyId: Number(data.company_id),
      companyName: String(data.company_name ?? ''),
      companyDomain: String(data.company_domain ?? ''),
      isAdmin: data.is_admin === true || data.is_admin === 1,
    };
  }

  /** null when the deal does not exist (any more). */
  async deal(id: number): Promise<PipedriveDeal | null> {
    try {
      return mapDeal(await this.client.call<Record<string, unknown>>(this.tokens, 'GET', `/api/v2/deals/${id}`));
    } catch (error) {
      if (error instanceof PipedriveApiError && (error.status === 404 || error.status === 410)) return null;
      throw error;
    }
  }

  /** One page of the deals changed since `since`, oldest change first (v2 list, up to 500 a page). */
  async dealsChangedSince(since: Date, cursor: string | null): Promise<{ items: PipedriveDeal[]; nextCursor: string | null }> {
    const query = new URLSearchParams({ updated_since: since.toISOString().replace(/\.\d{3}Z$/, 'Z'), sort_by: 'update_time', sort_direction: 'asc', limit: '500' });
    if (cursor) query.set('cursor', cursor);
    const page = await this.client.page<Record<string, unknown>>(this.tokens, `/api/v2/deals?${query.toString()}`);
    return { items: page.items.map(mapDeal), nextCursor: page.nextCursor };
  }

  async updateDeal(id: number, change: { status: 'won' } | { stageId: number }): Promise<PipedriveDeal> {
    const json = 'status' in change ? { status: change.status } : { stage_id: change.stageId };
    return mapDeal(await this.client.call<Record<string, unknown>>(this.tokens, 'PATCH', `/api/v2/deals/${id}`, { json }));
  }

  async person(id: number): Promise<PipedrivePerson | null> {
    try {
      const data = await this.client.call<Record<string, unknown>>(this.tokens, 'GET', `/api/v2/persons/${id}`);
      const emails = Array.isArray(data.emails) ? (data.emails as Array<{ value?: string; primary?: boolean }>) : [];
      const usable = emails.filter((email) => typeof email.value === 'string' && email.value.trim() !== '');
      const chosen = usable.find((email) => email.primary) ?? usable[0];
      const ordered = chosen ? [chosen, ...usable.filter((email) => email !== chosen)] : [];
      return { id: Number(data.id), name: String(data.name ?? ''), email: chosen?.value?.trim() ?? null, emails: ordered.map((email) => email.value!.trim()) };
    } catch (error) {
      if (error instanceof PipedriveApiError && error.status === 404) return null;
      throw error;
    }
  }

  async uploadDealFile(dealId: number, fileName: string, content: Buffer, contentType = 'application/pdf'): Promise<PipedriveFile> {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(content)], { type: contentType }), fileName);
    form.append('deal_id', String(dealId));
    const data = await this.client.call<Record<string, unknown>>(this.tokens, 'POST', '/api/v1/files', { form });
    return { id: Number(data.id), name: String(data.name ?? data.file_name ?? fileName), dealId };
  }

  /** Every file of the deal: a retry looks here for the file an earlier try uploaded, so no page may be missed. */
  async dealFiles(dealId: number): Promise<PipedriveFile[]> {
    const files = await this.everyPage<Record<string, unknown>>(`/api/v1/deals/${dealId}/files`, 100);
    return files.map((file) => ({ id: Number(file.id), name: String(file.name ?? file.file_name ?? ''), dealId }));
  }

  async addDealNote(dealId: number, html: string): Promise<{ id: number }> {
    const data = await this.client.call<Record<string, unknown>>(this.tokens, 'POST', '/api/v1/notes', {
      json: { deal_id: dealId, content: html, pinned_to_deal_flag: 0 },
    });
    return { id: Number(data.id) };
  }

  /** Every note of the deal (see `dealFiles`). */
  async dealNotes(dealId: number): Promise<Array<{ id: number; content: string }>> {
    const notes = await this.everyPage<Record<string, unknown>>(`/api/v1/notes?deal_id=${dealId}`, 500);
    return notes.map((note) => ({ id: Number(note.id), content: String(note.content ?? '') }));
  }

  /** A v1 list page by page, `limit` a page, at most `MAX_LIST_PAGES` pages. */
  private async everyPage<T>(path: string, limit: number): Promise<T[]> {
    const items: T[] = [];
    let start: number | null = 0;
    for (let pages = 0; start !== null && pages < MAX_LIST_PAGES; pages += 1) {
      const page: { items: T[]; nextStart: number | null } = await this.client.offsetPage<T>(this.tokens, `${path}${path.includes('?') ? '&' : '?'}start=${start}&limit=${limit}`);
      items.push(...page.items);
      start = page.nextStart;
    }
    return items;
  }


  async webhooks(): Promise<PipedriveWebhook[]> {
    const data = await this.client.call<Array<Record<string, unknown>> | null>(this.tokens, 'GET', '/api/v1/webhooks');
    return (data ?? []).map((hook) => ({
      id: Number(hook.id),
      subscriptionUrl: String(hook.subscription_url ?? ''),
      eventAction: String(hook.event_action ?? ''),
      eventObject: String(hook.event_object ?? ''),
    }));
  }

  async createWebhook(hook: { subscriptionUrl: string; eventAction: string; eventObject: string; name: string; httpAuthUser: string; httpAuthPassword: string }): Promise<PipedriveWebhook> {
    const data = await this.client.call<Record<string, unknown>>(this.tokens, 'POST', '/api/v1/webhooks', {
      json: {
        subscription_url: hook.subscriptionUrl,
        event_action: hook.eventAction,
        event_object: hook.eventObject,
        name: hook.name,
        version: '2.0',
        http_auth_user: hook.httpAuthUser,
        http_auth_password: hook.httpAuthPassword,
      },
    });
    return { id: Number(data.id), subscriptionUrl: hook.subscriptionUrl, eventAction: hook.eventAction, eventObject: hook.eventObject };
  }

  /** `not_found`: Pipedrive has no such webhook for this user (deleted already, or, perhaps, another user's). */
  async deleteWebhook(id: number): Promise<'deleted' | 'not_found'> {
    try {
      await this.client.call(this.tokens, 'DELETE', `/api/v1/webhooks/${id}`);
      return 'deleted';
    } catch (error) {
      if (error instanceof PipedriveApiError && error.status === 404) return 'not_found';
      throw error;
    }
  }
}

function mapDeal(data: Record<string, unknown>): PipedriveDeal {
  return {
    id: Number(data.id),
    title: String(data.title ?? ''),
    ownerId: optionalNumber(data.owner_id),
    personId: optionalNumber(data.person_id),
    pipelineId: optionalNumber(data.pipeline_id),
    stageId: optionalNumber(data.stage_id),
    status: (['open', 'won', 'lost'].includes(String(data.status)) ? data.status : 'open') as PipedriveDeal['status'],
    isArchived: data.is_archived === true,
    isDeleted: data.is_deleted === true,
    wonTime: typeof data.won_time === 'string' ? data.won_time : null,
    addTime: typeof data.add_time === 'string' ? data.add_time : null,
    updateTime: typeof data.update_time === 'string' ? data.update_time : null,
  };
}

/**
 * Pipedrive's refusal of a refresh token ("Invalid grant: refresh_token is invalid"). The reference pins the words,
 * not the field: `error: "invalid_grant"` with the words in `error_description`, or the words alone in any field.
 */
export function isRefusedGrant(body: Record<string, unknown>): boolean {
  return [body.error, body.error_description, body.message].some((text) => typeof text === 'string' && /^invalid[ _]grant\b/i.test(text));
}
