import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { RecentValues } from '../common/recent-values';
import { InstallationsRepository, type UserAccess } from '../installations/installations.repository';
import { PipedriveAdmins, notInstalledError, reinstallRequiredError } from '../pipedrive/pipedrive-admins.service';
import { InstallationRevokedError, PipedriveApiError, PipedriveRateLimitedError } from '../pipedrive/pipedrive.errors';
import { CompanyContext, NoActingInstallationError } from '../signing/company-context.service';
import type { Contract } from '../signing/contract.entity';
import { ContractsRepository } from '../signing/contracts.repository';
import type { PanelUser } from './panel-auth.guard';

/**
 * How long a deal Pipedrive showed a user stays shown without asking again. The panel polls every 4 s, so this is
 * one Pipedrive read per open panel every few minutes; a visibility change made in Pipedrive applies within it.
 */
const DEAL_SEEN_MS = 5 * 60 * 1000;
const DEALS_SEEN_MAX = 50_000;
/**
 * How long a user's install, once read for a route that only reads what we hold (a panel's poll, above all), stands
 * without reading it again: all but one poll in eight skip that read. An uninstall shows in those reads within it
 * (and erases the data they would show); every route that changes something reads the install each time.
 */
const INSTALL_SEEN_MS = 30_000;
const INSTALLS_SEEN_MAX = 50_000;

/**
 * Who may use a panel route. Every route acts for a user who has the app installed: a valid JWT alone (a colleague
 * who never installed the app, or uninstalled it) reads nothing. Routes about a deal also need Pipedrive to show that
 * deal to the user: our contracts follow Pipedrive's visibility groups, or any user of the company could read, void
 * and download the contracts of deals hidden from them by asking for their ids.
 */
/**
 * What a user may do on a deal: `shown` by Pipedrive, everything; `records` only, read its contracts (a deal Pipedrive
 * no longer shows, whose contracts an admin keeps).
 */
export type DealAccess = 'shown' | 'records';

@Injectable()
export class PanelAccess {
  private readonly dealsSeen = new RecentValues<DealAccess>(DEAL_SEEN_MS, DEALS_SEEN_MAX);
  private readonly installsSeen = new RecentValues<UserAccess>(INSTALL_SEEN_MS, INSTALLS_SEEN_MAX);
  /** A panel opening asks for the contracts and the signers together: they share one Pipedrive read. */
  private readonly checking = new Map<string, Promise<DealAccess>>();
  /** Users whose page started a deal check still under way. */
  private readonly preparingFor = new Set<string>();

  constructor(
    private readonly installations: InstallationsRepository,
    private readonly context: CompanyContext,
    private readonly contracts: ContractsRepository,
    private readonly admins: PipedriveAdmins,
  ) {}

  /** `recently`: an install read within `INSTALL_SEEN_MS` will do (routes that only read what we hold). */
  async installedUser(user: PanelUser, recently = false): Promise<UserAccess> {
    const key = `${user.companyId}:${user.userId}`;
    const seen = recently ? this.installsSeen.get(key) : undefined;
    if (seen) return seen;
    const access = await this.installations.userAccess(user.companyId, user.userId);
    if (!access) {
      this.installsSeen.delete(key);
      throw notInstalledError();
    }
    this.installsSeen.set(key, access, Number.POSITIVE_INFINITY);
    return access;
  }

  /**
   * The installed user, once Pipedrive shows them the deal; with `need: 'records'`, also an admin reading what we
   * hold for a deal Pipedrive no longer shows (its contracts, why no signer can be suggested). A send needs the deal.
   */
  async dealUser(user: PanelUser, dealId: string, need: DealAccess): Promise<UserAccess> {
    const access = await this.installedUser(user, need === 'records');
    if ((await this.seeDeal(user, dealId, need)) !== 'shown' && need === 'shown') throw ApiError.notFound('No such deal in Pipedrive');
    return access;
  }

  /**
   * Starts the Pipedrive reads a page's first calls wait for, when Pipedrive asks for the page: the user's role (the
   * settings every page reads) and, for a deal's panel, the deal. The page's script calls our API only after its
   * assets, the SDK handshake and a signed-token round trip, by which time those reads are done or under way, and the
   * calls share them. Nothing is answered here: a failure is remembered by nobody, so the call meets it again. A page
   * answers at once, so a user's pages start one deal read at a time: a loop of pages cannot hold more of the
   * company's Pipedrive requests at once than a loop of API calls does.
   */
  preparePage(user: PanelUser, dealId: string | null): void {
    this.admins.isAdminForDisplay(user.companyId, user.userId, false).catch(() => undefined);
    const userKey = `${user.companyId}:${user.userId}`;
    if (!dealId || this.preparingFor.has(userKey)) return;
    this.preparingFor.add(userKey);
    this.dealUser(user, dealId, 'records')
      .catch(() => undefined)
      .finally(() => this.preparingFor.delete(userKey));
  }

  /** A contract of the user's company on a deal Pipedrive shows them; any other id answers 404, like a missing one. */
  async contract(user: PanelUser, contractId: string): Promise<Contract> {
    await this.installedUser(user);
    const contract = /^\d{1,18}$/.test(contractId) ? await this.contracts.byId(contractId) : null;
    if (!contract || contract.companyId !== user.companyId) throw ApiError.notFound('No such contract');
    await this.seeDeal(user, contract.dealId, 'records');
    return contract;
  }

  /** What the user may do on the deal, as remembered; a deal remembered as records only is read again for a send. */
  private async seeDeal(user: PanelUser, dealId: string, need: DealAccess): Promise<DealAccess> {
    const key = `${user.companyId}:${user.userId}:${dealId}`;
    const seen = this.dealsSeen.get(key);
    if (seen === 'shown' || (seen && need === 'records')) return seen;
    let check = this.checking.get(key);
    if (!check) {
      check = this.readDeal(user, dealId).finally(() => this.checking.delete(key));
      this.checking.set(key, check);
    }
    const access = await check;
    this.dealsSeen.set(key, access, Number.POSITIVE_INFINITY);
    return access;
  }

  private async readDeal(user: PanelUser, dealId: string): Promise<DealAccess> {
    try {
      const api = await this.context.pipedriveAsUser(user.companyId, user.userId);
      const deal = await api.deal(Number(dealId));
      if (deal && !deal.isDeleted) return 'shown';
    } catch (error) {
      throw panelPipedriveError(error, 'whether you may see this deal') ?? error;
    }
    // A deleted deal's visibility cannot be read any more, and its signed contracts are still records: admins,
    // who see every deal in Pipedrive, keep them. A deal Pipedrive does not show and we hold nothing for (never
    // the company's, say) is no deal at all.
    if (!(await this.contracts.dealHasContracts(user.companyId, dealId))) throw ApiError.notFound('No such deal in Pipedrive');
    const role = await this.admins.checkForReading(user.companyId, user.userId);
    if (role === 'admin') return 'records';
    if (role === 'unavailable') throw new ApiError(502, 'pipedrive_unavailable', 'Pipedrive did not answer whether you may see this deal; try again in a minute');
    throw ApiError.notFound('No such deal in Pipedrive');
  }
}

/**
 * What a panel route answers when reading Pipedrive as the panel's user failed: the user's own authorization gone
 * (403, reinstall), a deal hidden from them (403), or Pipedrive not answering (502). Null for anything else.
 */
export function panelPipedriveError(error: unknown, what: string): ApiError | null {
  if (error instanceof NoActingInstallationError || error instanceof InstallationRevokedError) {
    return reinstallRequiredError();
  }
  if (error instanceof PipedriveApiError && error.status === 403) return new ApiError(403, 'deal_not_visible', 'Pipedrive does not show you this deal');
  if (error instanceof PipedriveRateLimitedError) {
    const minutes = Math.max(1, Math.ceil((error.retryAt.getTime() - Date.now()) / 60_000));
    return new ApiError(502, 'pipedrive_unavailable', `Pipedrive is busy: this company's request limit is used up for now. Try again in ${minutes === 1 ? 'a minute' : `${minutes} minutes`}.`);
  }
  if (error instanceof PipedriveApiError) return new ApiError(502, 'pipedrive_unavailable', `Pipedrive did not answer ${what}: ${error.message}`);
  return null;
}
