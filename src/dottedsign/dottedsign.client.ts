import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { fileNameFrom } from '../common/file-name';
import { type HttpAnswer, type HttpCallInit, httpCall } from '../common/http-call';
import { rateLimitWaitMs } from '../common/rate-limit-wait';
import { parseStorableJson } from '../common/storable-text';
import { type AppConfig, CONFIG } from '../config/app-config';
import {
  type CreateTaskRequest,
  type ESignProvider,
  isTaskGone,
  ProviderError,
  type ProviderEvent,
  type ProviderSession,
  type SignerProgress,
  type SignTask,
  type TaskFileKind,
  type TaskStatus,
  type Template,
} from '../signing/esign-provider.port';

/**
 * DottedSign, the first e-sign adapter. Every DottedSign path, parameter and JSON field lives in this file.
 * Unverified parts of the reference (marked below) are read tolerantly so a correction is a one-place change.
 */

export interface DottedSignTokens {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: Date;
  /** The account's email when the token response carries one (not documented; null otherwise). */
  accountEmail: string | null;
}

type Json = Record<string, unknown>;

const PAGE_SIZE = 50;
const MAX_PAGES = 20;
const TASK_STATUSES = new Set<TaskStatus>(['draft', 'waiting', 'completed', 'declined', 'voided', 'expired']);
/** Scopes this app asks for (the download scope's name is unverified). */
export const DOTTEDSIGN_SCOPES = ['sign_tasks.general.read', 'sign_tasks.general.write', 'sign_tasks.download.read'];

/** DottedSign's `file_name` rule: no `"*:<>?/\|~#%&{}`, no leading dot, at most 255 characters. */
const FILE_NAME_LENGTH = 255;

@Injectable()
export class DottedSignClient implements ESignProvider {
  readonly name = 'dottedsign';
  private readonly logger = new Logger(DottedSignClient.name);
  /** DottedSign's own page size, once a list without page counts has shown it (see `ListPages`). */
  private readonly vendorPageSize: VendorPageSize = { value: null };

  constructor(@Inject(CONFIG) private readonly config: AppConfig) {}

  private get base(): string {
    return this.config.dottedsign.apiUrl;
  }

  // ---- OAuth ----

  authorizeUrl(redirectUri: string, state: string): string {
    const query = new URLSearchParams({
      client_id: this.config.dottedsign.clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: DOTTEDSIGN_SCOPES.join(' '),
      state,
    });
    return `${this.base}/v1/oauth/authorize?${query}`;
  }

  exchangeCode(code: string, redirectUri: string): Promise<DottedSignTokens> {
    return this.token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri });
  }

  refresh(refreshToken: string): Promise<DottedSignTokens> {
    return this.token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  clientCredentials(): Promise<DottedSignTokens> {
    return this.token({ grant_type: 'client_credentials', scope: DOTTEDSIGN_SCOPES.join(' ') });
  }

  private async token(grant: Record<string, string>): Promise<DottedSignTokens> {
    const body = await this.request<Json>('POST', '/v1/oauth/token', {
      json: { client_id: this.config.dottedsign.clientId, client_secret: this.config.dottedsign.clientSecret, ...grant },
      envelope: false,
    });
    if (typeof body.access_token !== 'string') throw new ProviderError('DottedSign token response has no access_token', 'invalid_response', false);
    const expiresIn = Number(body.expires_in);
    return {
      accessToken: body.access_token,
      refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : null,
      expiresAt: new Date(Date.now() + (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600) * 1000),
      accountEmail: typeof body.email === 'string' ? body.email : typeof (body.user as Json | undefined)?.email === 'string' ? String((body.user as Json).email) : null,
    };
  }

  // ---- ESignProvider ----

  async templates(session: ProviderSession): Promise<Template[]> {
    const items = await this.listAll(session, 'templates', (page) => `/v1/templates/list?page=${page}&per_page=${PAGE_SIZE}`);
    return items.map((item) => ({ id: String(item.id ?? item.template_id), name: String(item.name ?? item.title ?? '') }));
  }

  async createFromTemplate(session: ProviderSession, request: CreateTaskRequest): Promise<SignTask> {
    // Quick create (path unverified in the reference): one stage per signer. `ordered`, asking for stage order, is
    // not in the reference (our reading of it): sent only when a contract asks for an order, so the body of every
    // other contract is the documented one.
    const stages = request.signers.map((signer) => ({ email: signer.email, name: signer.name }));
    const data = await this.authed<Json>(session, 'POST', '/v1/sign_tasks/quick_create', {
      json: {
        file_name: fileNameFrom(request.title, FILE_NAME_LENGTH),
        template_id: Number(request.templateId),
        stages,
        ...(request.ordered ? { ordered: true } : {}),
        start: true,
        metadata: request.metadata,
      },
    });
    const taskId = String(data.task_id ?? (data.task as Json | undefined)?.task_id ?? '');
    if (!taskId) throw new ProviderError('DottedSign quick create returned no task_id', 'invalid_response', true);
    // The task exists from here on: a failed read of it must not tell the caller that nothing was created.
    const created = await this.get(session, taskId).catch(() => null);
    return created ?? {
      taskId,
      status: 'waiting',
      title: fileNameFrom(request.title, FILE_NAME_LENGTH),
      metadata: request.metadata,
      signers: request.signers.map((signer) => ({ ...signer, status: 'waiting', signedAt: null })),
      declineReason: null,
      updatedAt: null,
    };
  }

  async get(session: ProviderSession, taskId: string): Promise<SignTask | null> {
    try {
      return mapTask(await this.authed<Json>(session, 'GET', `/v1/sign_tasks/read?task_id=${encodeURIComponent(taskId)}`));
    } catch (error) {
      if (isTaskGone(error)) return null;
      throw error;
    }
  }

  async findByMetadata(session: ProviderSession, key: string, value: string): Promise<SignTask[]> {
    const items = await this.listAll(session, 'tasks', (page) => {
      const query = new URLSearchParams({
        page: String(page),
        per_page: String(PAGE_SIZE),
        order_by: 'desc',
        sort_type: 'updated_at',
        metadata_key: key,
        metadata_value: value,
      });
      return `/v1/sign_tasks/list?${query}`;
    });
    // The metadata filter is unverified for this endpoint: filter again on our side.
    return items.map(mapTask).filter((task) => task.metadata[key] === value);
  }

  async void(session: ProviderSession, taskId: string, reason: string): Promise<void> {
    await this.authed(session, 'POST', '/v1/sign_tasks/void', { json: { task_id: Number(taskId) || taskId, reason } });
  }

  async discard(session: ProviderSession, taskId: string): Promise<void> {
    await this.authed(session, 'POST', '/v1/sign_tasks/discard', { json: { task_id: Number(taskId) || taskId } });
  }

  async download(session: ProviderSession, taskId: string, kind: TaskFileKind): Promise<Buffer> {
    // Links are short-lived: ask for a fresh one each time, and once more if it expired before we used it.
    for (let attempt = 0; ; attempt++) {
      const data = await this.authed<unknown>(session, 'GET', `/v1/sign_tasks/download_link?task_id=${encodeURIComponent(taskId)}&file_types=${kind}`);
      const link = downloadLink(data, kind);
      if (!link) throw new ProviderError(`DottedSign has no ${kind} file for task ${taskId}`, 'file_not_ready', true);
      const response = await this.send(link, { method: 'GET' });
      if (response.ok) return response.body;
      if ((response.status === 403 || response.status === 410) && attempt === 0) continue;
      throw new ProviderError(`DottedSign file download failed: HTTP ${response.status}`, 'download_failed', response.status >= 500 || response.status === 429, response.status);
    }
  }

  /** A correctly signed delivery the app cannot use is acknowledged (a retry would not help) with no event. */
  parseWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): ProviderEvent[] | null {
    const signature = headers.signature ?? headers['x-signature'];
    if (typeof signature !== 'string' || !this.config.dottedsign.clientSecret) return null;
    const mac = createHmac('sha256', this.config.dottedsign.clientSecret).update(rawBody).digest();
    const given = signature.trim();
    const candidates = [Buffer.from(given, 'hex'), Buffer.from(given, 'base64')];
    const ok = candidates.some((candidate) => candidate.length === mac.length && timingSafeEqual(candidate, mac));
    if (!ok) return null;
    let body: Json;
    try {
      body = parseStorableJson(rawBody.toString('utf8')) as Json;
    } catch {
      return this.ignoredWebhook('the body is not JSON');
    }
    if (typeof body !== 'object' || body === null) return this.ignoredWebhook('the body is not a JSON object');
    const resourceType = String(body.resource_type ?? '');
    if (resourceType !== 'SignTask' && resourceType !== 'task') return this.ignoredWebhook(`resource_type ${JSON.stringify(resourceType.slice(0, 64))} is not a sign task`);
    const task = (body.task ?? {}) as Json;
    const taskId = String(task.task_id ?? body.resource_id ?? '');
    const action = String(body.action_name ?? '');
    if (!taskId) return this.ignoredWebhook('it names no task (no task.task_id or resource_id)');
    if (!action) return this.ignoredWebhook(`it has no action_name (task ${taskId.slice(0, 64)})`);
    const occurredAt = vendorTime(body.event_datetime) ?? new Date();
    const actorEmail = typeof body.event_email === 'string' && body.event_email ? body.event_email : null;
    return [
      {
        // DottedSign events carry no id: the reference's dedupe key.
        dedupeKey: `${body.resource_id ?? taskId}:${action}:${body.event_datetime ?? ''}:${actorEmail ?? ''}`,
        action,
        taskId,
        actorEmail,
        occurredAt,
        metadata: stringRecord(task.metadata),
      },
    ];
  }

  private ignoredWebhook(reason: string): ProviderEvent[] {
    this.logger.warn(`ignored a signed DottedSign webhook: ${reason}`);
    return [];
  }

  // ---- HTTP ----

  private async authed<T>(session: ProviderSession, method: string, path: string, body?: { json?: unknown }): Promise<T> {
    const token = await session.accessToken();
    try {
      return await this.request<T>(method, path, { ...body, token });
    } catch (error) {
      // The reference documents a rejected token only as 400002 `invalid_token`; a 401 means the same.
      if (error instanceof ProviderError && (error.status === 401 || error.key === 'invalid_token')) {
        return this.request<T>(method, path, { ...body, token: await session.refreshAfterRejection(token) });
      }
      throw error;
    }
  }

  private async request<T>(method: string, path: string, options: { json?: unknown; token?: string; envelope?: boolean }): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    const response = await this.send(`${this.base}${path}`, {
      method,
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
    });
    const body = response.json<Json>();
    if (!response.ok) throw this.error(response, body, `${method} ${path.split('?')[0]}`);
    if (options.envelope === false) return (body ?? {}) as T;
    return (body?.data ?? {}) as T;
  }

  /** Every item of a list, page after page (see `ListPages`), each once. */
  private async listAll(session: ProviderSession, key: string, pathOf: (page: number) => string): Promise<Json[]> {
    const pages = new ListPages(this.vendorPageSize);
    const items: Json[] = [];
    for (let page = 1; ; page++) {
      if (page > MAX_PAGES) {
        this.logger.warn(`DottedSign ${key} list: read ${MAX_PAGES} pages (${items.length} items) and stopped there`);
        return items;
      }
      const data = await this.authed<Json>(session, 'GET', pathOf(page));
      const listed = listOf(data, key);
      const fresh = pages.fresh(listed);
      items.push(...fresh);
      if (pages.ended(data, page, listed.length, fresh.length)) return items;
    }
  }

  private async send(url: string, init: HttpCallInit): Promise<HttpAnswer> {
    try {
      return await httpCall(url, init);
    } catch (error) {
      throw new ProviderError(`DottedSign unreachable: ${(error as Error).message}`, 'unreachable', true);
    }
  }

  private error(response: HttpAnswer, body: Json | null, what: string): ProviderError {
    const key = String(body?.error_key ?? (response.status === 429 ? 'rate_limited' : `http_${response.status}`));
    const message = String(body?.error_message ?? body?.error ?? `HTTP ${response.status}`);
    if (response.status === 429) {
      // No limits are documented: without a readable Retry-After, 30 s; at least 5 s, so a `0` or a date already past
      // does not send the job straight back to a vendor that is refusing it.
      const retryAt = new Date(Date.now() + rateLimitWaitMs([response.header('retry-after')], { fallbackMs: 30_000, minMs: 5_000 }));
      return new ProviderError(`DottedSign ${what}: rate limited`, key, true, 429, retryAt);
    }
    this.logger.debug(`DottedSign ${what} answered ${response.status} ${key}`);
    return new ProviderError(`DottedSign ${what}: ${message} (${key})`, key, response.status >= 500, response.status);
  }
}

function stringRecord(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(Object.entries(value as Json).map(([key, entry]) => [key, String(entry)]));
}

function listOf(data: Json, key: string): Json[] {
  const list = Array.isArray(data) ? data : (data[key] ?? data.items ?? data.data);
  return Array.isArray(list) ? (list as Json[]) : [];
}

export interface VendorPageSize {
  value: number | null;
}

/** How many pages a list's counts say it has (`total_pages`, or `total` and `per_page`); null without usable counts. */
function pageCount(data: Json): number | null {
  const pagination = (data.pagination ?? data.meta ?? data) as Json;
  const count = (value: unknown) => ((typeof value === 'number' || (typeof value === 'string' && value.trim() !== '')) && Number(value) > 0 ? Number(value) : null);
  const totalPages = count(pagination.total_pages);
  if (totalPages !== null) return totalPages;
  const [total, perPage] = [count(pagination.total), count(pagination.per_page)];
  return total !== null && perPage !== null ? Math.ceil(total / perPage) : null;
}

/**
 * Follows a DottedSign list's pages, whose shape is unverified. Counts (`total_pages`, or `total` with `per_page`)
 * say how many pages there are. Without them, a page shorter than DottedSign's own page size is the last: that size
 * is what full pages have shown (a full page of ours, or a short page followed by more), in this list or in an
 * earlier one (`vendorPageSize`, kept by the client). Until it is known, a short page is followed by one more call.
 * A page with nothing new (empty, or the same items again because the page number was ignored) ends the list.
 * Items are told apart by their id, or by their whole JSON when they have none.
 */
export class ListPages {
  private readonly seen = new Set<string>();
  private longest = 0;
  private previous = 0;

  constructor(private readonly vendorPageSize: VendorPageSize) {}

  /** The page's items not seen before in this list. */
  fresh(items: Json[]): Json[] {
    return items.filter((item) => {
      const id = item.task_id ?? item.id ?? item.template_id;
      const key = id === undefined || id === null ? `json:${JSON.stringify(item)}` : `id:${String(id)}`;
      if (this.seen.has(key)) return false;
      this.seen.add(key);
      return true;
    });
  }

  /** Whether `page`, which listed `items` items of which `freshItems` were new, was the last. */
  ended(data: Json, page: number, items: number, freshItems: number): boolean {
    const [longestBefore, previous] = [this.longest, this.previous];
    this.longest = Math.max(this.longest, items);
    this.previous = items;
    if (!freshItems) return true;
    const pages = pageCount(data);
    if (pages !== null) return page >= pages;
    if (items >= PAGE_SIZE) {
      this.vendorPageSize.value = PAGE_SIZE;
      return false;
    }
    // A short page was followed by more: it was DottedSign's own page size.
    if (page > 1 && previous < PAGE_SIZE) this.vendorPageSize.value = previous;
    const pageSize = Math.max(longestBefore, this.vendorPageSize.value ?? 0);
    return pageSize > 0 && items < pageSize;
  }
}

/**
 * A time as DottedSign may give it: Unix seconds (its webhooks' `event_datetime`), milliseconds, or an ISO 8601 text
 * with its offset (the read's `signed_at`, shape unverified). Null when it is none of them.
 */
export function vendorTime(value: unknown): Date | null {
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : null;
  if (number !== null) return number > 0 ? new Date(number >= 1e12 ? number : number * 1000) : null;
  if (typeof value !== 'string' || !value.trim()) return null;
  const parsed = Date.parse(value);
  return Number.isFinite(parsed) ? new Date(parsed) : null;
}

/** Read shape unverified: signers under `stages[].signers` (or `participants`), or on the stage itself. */
function mapTask(data: Json): SignTask {
  const stages = Array.isArray(data.stages) ? (data.stages as Json[]) : [];
  const signers: SignerProgress[] = [];
  let declineReason: string | null = typeof data.decline_reason === 'string' ? data.decline_reason : null;
  for (const stage of stages) {
    const people = (Array.isArray(stage.signers) ? stage.signers : Array.isArray(stage.participants) ? stage.participants : [stage]) as Json[];
    for (const person of people) {
      if (typeof person.email !== 'string') continue;
      const status = String(person.status ?? 'waiting');
      const reason = typeof person.decline_reason === 'string' ? person.decline_reason : null;
      declineReason ??= reason;
      signers.push({
        name: String(person.name ?? ''),
        email: person.email,
        status: (['waiting', 'viewed', 'signed', 'declined'].includes(status) ? status : 'waiting') as SignerProgress['status'],
        signedAt: vendorTime(person.signed_at)?.toISOString() ?? null,
        declineReason: reason,
      });
    }
  }
  const status = String(data.status ?? 'waiting') as TaskStatus;
  return {
    taskId: String(data.task_id ?? data.id ?? ''),
    status: TASK_STATUSES.has(status) ? status : 'waiting',
    title: String(data.file_name ?? ''),
    metadata: stringRecord(data.metadata),
    signers,
    declineReason,
    updatedAt: typeof data.updated_at === 'string' ? data.updated_at : null,
  };
}

/** Link shape unverified: `{completed: url}`, `{links: {...}}` or `[{file_type, url}]`. */
function downloadLink(data: unknown, kind: TaskFileKind): string | null {
  if (Array.isArray(data)) {
    const entry = (data as Json[]).find((item) => item.file_type === kind || item.type === kind);
    return typeof entry?.url === 'string' ? entry.url : (typeof entry?.link === 'string' ? entry.link : null);
  }
  if (data && typeof data === 'object') {
    const record = data as Json;
    const direct = record[kind] ?? (record.links as Json | undefined)?.[kind];
    if (typeof direct === 'string') return direct;
    if (direct && typeof direct === 'object' && typeof (direct as Json).url === 'string') return String((direct as Json).url);
    if (Array.isArray(record.files)) return downloadLink(record.files, kind);
  }
  return null;
}
