import { Body, Controller, Get, Inject, Put, UseGuards } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { validate } from '../common/validation';
import { type AppConfig, CONFIG } from '../config/app-config';
import { DottedSignConnections, NotConnectedError } from '../dottedsign/dottedsign-connections.service';
import { z } from 'zod';
import { applySettings, autoSendWidens, readSettings, settingsUpdate, settingsVersion } from '../installations/company-settings';
import { E_SIGN_PROVIDER } from '../signing/contract-sender.service';
import { type ESignProvider, ProviderError } from '../signing/esign-provider.port';
import { PipedriveAdmins, notInstalledError } from '../pipedrive/pipedrive-admins.service';
import { PanelAccess } from './panel-access.service';
import { CurrentPanelUser, PanelAuthGuard, type PanelUser } from './panel-auth.guard';

/** `version`: the one `GET /api/settings` gave; a save from an older read is refused (409) instead of undoing a newer one. */
const versionedUpdate = settingsUpdate.extend({ version: z.string().max(64).optional() });

/** The settings page's API: company settings, and the templates to choose from. */
@Controller('api')
@UseGuards(PanelAuthGuard)
export class SettingsController {
  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly access: PanelAccess,
    private readonly admins: PipedriveAdmins,
    private readonly connections: DottedSignConnections,
    @Inject(E_SIGN_PROVIDER) private readonly provider: ESignProvider,
  ) {}

  @Get('settings')
  async get(@CurrentPanelUser() user: PanelUser) {
    const { settings, isAdmin, authorized } = await this.company(user);
    // Roles change in Pipedrive after the install: a promoted admin must not be shown a read-only page. A user
    // Pipedrive no longer authorizes cannot save (the admin check asks Pipedrive as them): read-only, saying why.
    const canEdit = authorized && (await this.admins.isAdminForDisplay(user.companyId, user.userId, isAdmin));
    return this.view(user.companyId, settings, { canEdit, authorized });
  }

  @Put('settings')
  async put(@CurrentPanelUser() user: PanelUser, @Body() body: unknown) {
    const { authorized } = await this.company(user);
    await this.admins.requireAdmin(user.companyId, user.userId, 'change the app settings');
    const { version, ...update } = validate(versionedUpdate, body ?? {});
    // Applied to the settings as they are now (locked), not as this request's page read them.
    const next = await this.dataSource.transaction(async (manager) => {
      const [row] = (await manager.query('SELECT settings FROM companies WHERE id = $1 FOR UPDATE', [user.companyId])) as Array<{ settings: unknown }>;
      if (!row) throw notInstalledError();
      const current = readSettings(row.settings);
      if (version !== undefined && version !== settingsVersion(current)) {
        throw new ApiError(409, 'settings_changed', 'Another admin changed the settings after this page loaded them. Their changes are shown now; make yours again.');
      }
      const applied = applySettings(current, update);
      if ('error' in applied) throw ApiError.badRequest(applied.error, [{ field: 'onCompleted.stageId', message: 'required when action is "stage"' }]);
      // Deals added before the rules covered them stay unsent, as their webhooks left them: the sweep starts after.
      await manager.query(
        `UPDATE companies SET settings = $2, updated_at = now(), auto_send_widened_at = CASE WHEN $3 THEN now() ELSE auto_send_widened_at END WHERE id = $1`,
        [user.companyId, JSON.stringify(applied), autoSendWidens(current, applied)],
      );
      return applied;
    });
    return this.view(user.companyId, next, { canEdit: true, authorized });
  }

  @Get('templates')
  async templates(@CurrentPanelUser() user: PanelUser) {
    await this.company(user);
    try {
      const templates = await this.provider.templates(await this.connections.session(user.companyId));
      return { templates: templates.map((template) => ({ id: Number(template.id), name: template.name })) };
    } catch (error) {
      if (error instanceof NotConnectedError) throw new ApiError(409, 'dottedsign_not_connected', 'Connect DottedSign in the app settings first');
      if (error instanceof ProviderError) throw new ApiError(502, 'dottedsign_unavailable', `DottedSign did not return the templates: ${error.message}`);
      throw error;
    }
  }

  private async company(user: PanelUser) {
    const access = await this.access.installedUser(user);
    return { settings: readSettings(access.settings), isAdmin: access.isAdmin, authorized: access.authorized };
  }

  /**
   * `canEdit`: whether this user may change the settings; `pipedrive.authorization`: whether Pipedrive still accepts
   * this user's authorization of the app (what they do in the panel acts as them).
   */
  private async view(companyId: string, settings: ReturnType<typeof readSettings>, user: { canEdit: boolean; authorized: boolean }) {
    const connection = await this.connections.get(companyId);
    return {
      canEdit: user.canEdit,
      pipedrive: { authorization: user.authorized ? 'ok' : 'reinstall_required' },
      version: settingsVersion(settings),
      templateId: settings.templateId === null ? null : Number(settings.templateId),
      autoSend: settings.autoSend,
      onCompleted: settings.onCompleted,
      attachFiles: settings.attachFiles,
      writeNotes: settings.writeNotes,
      dottedsign: {
        connected: Boolean(connection),
        /** `reconnect_required`: DottedSign refused the stored authorization for good; connecting again fixes it. */
        status: !connection ? 'not_connected' : connection.reconnectRequiredAt ? 'reconnect_required' : 'ok',
        account: connection?.accountEmail ?? null,
        mode: connection?.mode ?? null,
        appAccountAvailable: this.config.dottedsign.appAccount,
      },
    };
  }
}
