import { Injectable, Logger } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { RecentValues } from '../common/recent-values';
import { InstallationsRepository } from '../installations/installations.repository';
import { JobQueue } from '../jobs/job-queue.service';
import { ENSURE_WEBHOOKS } from './pipedrive.jobs';
import { InstallationRevokedError } from './pipedrive.errors';
import { PipedriveTokens } from './pipedrive-tokens.service';

export type AdminCheck = 'admin' | 'not_admin' | 'not_installed' | 'reinstall_required' | 'unavailable';

/** How long a role read for display is shown without asking again: every panel opening reads the settings. */
const ROLE_SHOWN_MS = 60 * 1000;

/**
 * Whether a user is a Pipedrive admin now. Admin rights change after the install (a demoted admin must not keep
 * changing the company's set-up), so an admin-only action asks Pipedrive, as the user, and keeps the answer on the
 * installation for what only shows it (the settings page's `canEdit`).
 */
@Injectable()
export class PipedriveAdmins {
  private readonly logger = new Logger(PipedriveAdmins.name);
  private readonly shown = new RecentValues<boolean>(ROLE_SHOWN_MS, 10_000);
  /** Reads of a role for what only reads, under way: a panel's page and its first calls share one. */
  private readonly reading = new Map<string, Promise<AdminCheck>>();

  constructor(
    private readonly installations: InstallationsRepository,
    private readonly tokens: PipedriveTokens,
    private readonly jobs: JobQueue,
  ) {}

  async check(companyId: string, userId: string): Promise<AdminCheck> {
    const installation = await this.installations.byUser(companyId, userId);
    if (!installation) return 'not_installed';
    if (installation.invalidReason) return 'reinstall_required';
    let isAdmin: boolean;
    try {
      isAdmin = (await this.tokens.apiFor(installation).me()).isAdmin;
    } catch (error) {
      if (error instanceof InstallationRevokedError) return 'reinstall_required';
      this.logger.warn(`company ${companyId} user ${userId}: Pipedrive did not say whether they are an admin: ${(error as Error).message}`);
      return 'unavailable';
    }
    if (isAdmin !== installation.isAdmin) {
      await this.installations.setAdmin(installation.id, isAdmin);
      // The deal webhooks belong with an admin (Pipedrive filters their events by their user's permissions).
      await this.jobs.send(ENSURE_WEBHOOKS, { companyId });
    }
    this.shown.set(`${companyId}:${userId}`, isAdmin, Number.POSITIVE_INFINITY);
    return isAdmin ? 'admin' : 'not_admin';
  }

  /** As `check`, for what only reads: joins a read of the role already under way. An action asks afresh (`check`). */
  checkForReading(companyId: string, userId: string): Promise<AdminCheck> {
    const key = `${companyId}:${userId}`;
    let reading = this.reading.get(key);
    if (!reading) {
      reading = this.check(companyId, userId).finally(() => this.reading.delete(key));
      this.reading.set(key, reading);
    }
    return reading;
  }

  /**
   * For what only shows the role (the settings page's `canEdit`): Pipedrive's answer at most a minute old, or the
   * role recorded at the user's last install or admin action when Pipedrive does not answer.
   */
  async isAdminForDisplay(companyId: string, userId: string, recorded: boolean): Promise<boolean> {
    const known = this.shown.get(`${companyId}:${userId}`);
    if (known !== undefined) return known;
    const role = await this.checkForReading(companyId, userId);
    return role === 'admin' || role === 'not_admin' ? role === 'admin' : recorded;
  }

  /** For the JSON API: anything but a confirmed admin answers why. `action`: what only an admin may do. */
  async requireAdmin(companyId: string, userId: string, action: string): Promise<void> {
    const outcome = await this.check(companyId, userId);
    if (outcome === 'admin') return;
    throw adminCheckError(outcome, action);
  }
}

export function adminCheckError(outcome: Exclude<AdminCheck, 'admin'>, action: string): ApiError {
  switch (outcome) {
    case 'not_installed':
      return notInstalledError();
    case 'reinstall_required':
      return reinstallRequiredError();
    case 'unavailable':
      return new ApiError(502, 'pipedrive_unavailable', `Pipedrive did not confirm that you are an admin, so nothing was changed; try again in a minute`);
    case 'not_admin':
      return ApiError.forbidden(`Only a Pipedrive admin can ${action}`);
  }
}

/** The user has no installation of the app in this company (never installed, uninstalled, or the company erased). */
export function notInstalledError(): ApiError {
  return ApiError.forbidden('The app is not installed for this Pipedrive user');
}

/** The user's own Pipedrive authorization of the app is gone (refresh refused): only a reinstall brings it back. */
export function reinstallRequiredError(): ApiError {
  return new ApiError(403, 'reinstall_required', 'Your Pipedrive authorization for the app is no longer valid. Reinstall the app.');
}
