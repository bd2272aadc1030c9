import '../shared/base.css';
import './settings.css';
import { type Api, ApiFailure, createApi, messageOf } from '../shared/api';
import { h, render } from '../shared/dom';
import { type Host, connectInPipedrive } from '../shared/host';
import type { Template } from '../panel/types';
import { connectionSection } from './connection-section';
import { settingsForm } from './settings-form';
import type { Settings, SettingsUpdate } from './types';

const REINSTALL = 'Pipedrive no longer accepts your authorization of this app (it was revoked or has lapsed). Install the app again from the Pipedrive Marketplace to send contracts.';

/** The app's settings page inside Pipedrive: the DottedSign connection and the company's choices. */
class SettingsPage {
  private settings: Settings | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly host: Host,
    private readonly api: Api,
  ) {
    // After connecting in the OAuth window the user comes back here: show the new state.
    window.addEventListener('focus', () => void this.reloadIfConnectionChanged());
  }

  async load(): Promise<void> {
    try {
      this.settings = await this.api<Settings>('GET', '/settings');
    } catch (error) {
      const notInstalled = error instanceof ApiFailure && error.status === 403;
      if (!notInstalled) this.host.snackbar(messageOf(error));
      render(
        this.root,
        h('h1', null, 'DottedSign Contracts'),
        h('div', { class: 'notice bad', 'data-state': notInstalled ? 'not_installed' : 'load_error' }, h('span', null, `Settings could not be loaded: ${messageOf(error)}`), notInstalled ? null : h('button', { type: 'button', onClick: () => void this.load() }, 'Try again')),
      );
      return;
    }
    // A connection DottedSign refused lists no templates: asking would only show the same error again.
    const templates = this.settings.dottedsign.status === 'ok' ? await this.templates() : null;
    this.show(this.settings, templates);
  }

  private show(settings: Settings, templates: Template[] | null): void {
    render(
      this.root,
      h('header', { class: 'page-head' }, h('h1', null, 'DottedSign Contracts'), h('p', { class: 'muted' }, 'Send contracts for e-signature from your deals and keep the deals up to date.')),
      settings.pipedrive.authorization === 'ok' ? null : h('div', { class: 'notice bad', 'data-state': 'reinstall_required' }, h('span', null, REINSTALL)),
      settings.canEdit || settings.pipedrive.authorization !== 'ok' ? null : h('div', { class: 'notice', 'data-state': 'read_only' }, h('span', null, 'Only a Pipedrive admin can change these settings.')),
      connectionSection(
        settings.dottedsign,
        {
          connect: () => void this.connect(),
          connectAppAccount: () => void this.run('POST', '/dottedsign/connect-app-account', 'DottedSign connected'),
          disconnect: () => void this.disconnect(),
        },
        settings.canEdit,
      ),
      settingsForm({
        settings,
        templates,
        reloadTemplates: templates === null && settings.dottedsign.status === 'ok' ? () => void this.load() : undefined,
        save: (update) => this.save(update),
      }),
    );
  }

  private async templates(): Promise<Template[] | null> {
    try {
      return (await this.api<{ templates: Template[] }>('GET', '/templates')).templates;
    } catch (error) {
      this.host.snackbar(messageOf(error));
      return null;
    }
  }

  private async save(update: SettingsUpdate): Promise<Settings> {
    try {
      this.settings = await this.api<Settings>('PUT', '/settings', update);
      this.host.snackbar('Settings saved');
      return this.settings;
    } catch (error) {
      this.host.snackbar(error instanceof ApiFailure && error.details.length ? 'Some settings need attention' : messageOf(error));
      // Another admin saved since this page loaded: show their settings rather than keep offering stale ones.
      if (error instanceof ApiFailure && error.code === 'settings_changed') void this.load();
      throw error;
    }
  }

  /** OAuth runs in its own window; its link carries a fresh panel token that identifies company and user. */
  private async connect(): Promise<void> {
    const token = await this.host.signedToken();
    window.open(`/auth/dottedsign?token=${encodeURIComponent(token)}`, '_blank', 'noopener');
  }

  private async disconnect(): Promise<void> {
    const confirmed = await this.host.confirm({
      title: 'Disconnect DottedSign?',
      description: 'No contracts are sent until an account is connected again. Contracts already sent keep their status.',
      okText: 'Disconnect',
      danger: true,
    });
    if (confirmed) await this.run('DELETE', '/dottedsign/connection', 'DottedSign disconnected');
  }

  private async run(method: 'POST' | 'DELETE', path: string, success: string): Promise<void> {
    try {
      await this.api(method, path, method === 'POST' ? {} : undefined);
      this.host.snackbar(success);
      await this.load();
    } catch (error) {
      this.host.snackbar(messageOf(error));
    }
  }

  private async reloadIfConnectionChanged(): Promise<void> {
    if (!this.settings) return;
    const latest = await this.api<Settings>('GET', '/settings').catch(() => null);
    const [before, after] = [this.settings.dottedsign, latest?.dottedsign];
    if (after && (after.connected !== before.connected || after.status !== before.status || after.account !== before.account)) await this.load();
  }
}

async function main(): Promise<void> {
  const root = document.getElementById('app')!;
  const host = await connectInPipedrive(root);
  if (!host) return;
  await new SettingsPage(root, host, createApi(host.signedToken)).load();
}

void main();
