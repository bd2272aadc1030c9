import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { InstallationsRepository } from '../installations/installations.repository';
import type { PanelUser } from './panel-auth.guard';

/** Every panel route acts for a user who has the app installed: a valid JWT alone (a colleague who never installed it, or uninstalled it) reads nothing. */
@Injectable()
export class PanelAccess {
  constructor(private readonly installations: InstallationsRepository) {}

  async installedUser(user: PanelUser) {
    const access = await this.installations.userAccess(user.companyId, user.userId);
    if (!access) throw ApiError.forbidden('The app is not installed for this Pipedrive user');
    return access;
  }
}
