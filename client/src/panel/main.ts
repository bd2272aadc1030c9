import '../shared/base.css';
import './panel.css';
import { type Api, ApiFailure, createApi, messageOf } from '../shared/api';
import { h, render } from '../shared/dom';
import { type Host, connectInPipedrive } from '../shared/host';
import { contractCard, refreshDownloadLinks, statusLabel } from './contract-card';
import { visiblePoller } from './poller';
import { type SendRequest, sendForm } from './send-form';
import type { ContractView, SettingsView, SignerSuggestion, Template } from './types';

const POLL_MS = 4000;
/** What the panel says for each 403 the API explains with its own code; any other 403 is "not installed". */
const REFUSALS: Record<string, string> = {
  deal_not_visible: 'Pipedrive does not show you this deal, so its contracts are not shown to you either.',
  reinstall_required: 'Pipedrive no longer accepts your authorization of this app, so you cannot see or send contracts. Install the app again from the Pipedrive Marketplace.',
};
/** Performance marks bench/panel.bench.ts reads: the SDK answered, the first list of contracts is on screen. */
const INITIALIZED_MARK = 'panel:sdk-initialized';
const FIRST_RENDER_MARK = 'panel:contracts-rendered';

/**
 * Compares lists without the download links, which are re-signed (and expire) on every answer: a change of link
 * alone does not rebuild the cards, renderList puts the fresh links into them in place instead.
 */
const fingerprint = (contracts: ContractView[]) => JSON.stringify(contracts.map(({ downloads, ...rest }) => [rest, downloads.length]));

class DealPanel {
  private settings: SettingsView | null = null;
  private templates: Template[] | null = null;
  private contracts: ContractView[] = [];
  private shown = '';
  private pollError = '';
  private readonly timelineOpen = new Set<number>();
  private readonly head = h('header', { class: 'panel-head' });
  private readonly notices = h('div', { class: 'notices' });
  private readonly formSlot = h('div', { class: 'form-slot' });
  private readonly list = h('section', { class: 'contracts', 'aria-label': 'Contracts of this deal' });
  /** What changed since the last poll, for screen readers: only that is read out, not the whole list again. */
  private readonly announcer = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });

  constructor(
    private readonly root: HTMLElement,
    private readonly host: Host,
    private readonly api: Api,
    private readonly dealId: number,
  ) {}

  async start(): Promise<void> {
    try {
      [this.settings, { contracts: this.contracts }] = await Promise.all([
        this.api<SettingsView>('GET', '/settings'),
        this.api<{ contracts: ContractView[] }>('GET', `/deals/${this.dealId}/contracts`),
      ]);
    } catch (error) {
      return this.failedToLoad(error);
    }
    render(this.root, this.head, this.notices, this.formSlot, this.list, this.announcer);
    this.renderHead();
    this.renderNotices();
    this.renderList(true);
    performance.mark(FIRST_RENDER_MARK);
    if (this.canSend) void this.loadTemplates().then(() => this.renderList(true));

    const poller = visiblePoller(() => this.refresh(), POLL_MS);
    this.host.onVisibility((visible) => {
      poller.setVisible(visible);
      if (visible) void this.reloadSettings();
    });
    poller.start();
  }

  /**
   * Coming back into view, the panel reads the settings again: DottedSign may have been connected (or disconnected)
   * in the settings page meanwhile, and Send and the notices follow it.
   */
  private async reloadSettings(): Promise<void> {
    let settings: SettingsView;
    try {
      settings = await this.api<SettingsView>('GET', '/settings');
    } catch {
      return; // the contracts poll reports what is wrong
    }
    if (JSON.stringify(settings) === JSON.stringify(this.settings)) return;
    // Another DottedSign account (or the same one connected again) may offer other templates.
    if (JSON.stringify(settings.dottedsign) !== JSON.stringify(this.settings?.dottedsign)) this.templates = null;
    this.settings = settings;
    this.renderHead();
    this.renderNotices();
    if (this.canSend) void this.loadTemplates().then(() => this.renderList(true));
  }

  private failedToLoad(error: unknown): void {
    const refused = error instanceof ApiFailure && error.status === 403;
    if (!refused) this.host.snackbar(messageOf(error));
    const state = !refused ? 'load_error' : REFUSALS[error.code] ? error.code : 'not_installed';
    render(
      this.root,
      h(
        'div',
        { class: 'notice bad', 'data-state': state },
        h('span', null, refused ? (REFUSALS[state] ?? `${messageOf(error)}. Ask an admin to install the app, or install it from the Marketplace.`) : `Contracts could not be loaded: ${messageOf(error)}`),
        refused ? null : h('button', { type: 'button', onClick: () => void this.start() }, 'Try again'),
      ),
    );
  }

  /** DottedSign connected with a connection it still accepts, and this user's Pipedrive authorization working: contracts can be sent. */
  private get canSend(): boolean {
    return this.settings?.dottedsign.status === 'ok' && this.settings.pipedrive.authorization === 'ok';
  }

  private renderHead(): void {
    render(
      this.head,
      h('h2', null, 'DottedSign contracts'),
      h('button', { type: 'button', class: 'primary', 'data-action': 'open-send', disabled: !this.canSend || this.formSlot.childElementCount > 0, onClick: () => void this.openForm() }, 'Send contract'),
    );
  }

  private renderNotices(): void {
    const settingsButton = h('button', { type: 'button', 'data-action': 'open-settings', onClick: () => this.host.openSettings() }, 'Open settings');
    if (this.settings?.pipedrive.authorization === 'reinstall_required') {
      render(this.notices, h('div', { class: 'notice bad', 'data-state': 'reinstall_required' }, h('span', null, REFUSALS.reinstall_required)));
    } else if (this.settings?.dottedsign.status === 'reconnect_required') {
      render(this.notices, h('div', { class: 'notice warn', 'data-state': 'reconnect_required' }, h('span', null, 'DottedSign no longer accepts the connection, so no contract can be sent. Reconnect it in the app settings.'), settingsButton));
    } else if (!this.canSend) {
      render(this.notices, h('div', { class: 'notice warn', 'data-state': 'not_connected' }, h('span', null, 'DottedSign is not connected. Connect it in the app settings to send contracts.'), settingsButton));
    } else if (this.settings?.templateId === null) {
      render(this.notices, h('div', { class: 'notice', 'data-state': 'no_template' }, h('span', null, 'No default template is chosen, so new deals get no contract automatically.'), settingsButton));
    } else {
      render(this.notices);
    }
  }

  private renderList(force = false): void {
    const print = fingerprint(this.contracts);
    if (!force && print === this.shown) {
      refreshDownloadLinks(this.list, this.contracts);
      return;
    }
    this.shown = print;
    if (!this.contracts.length) {
      render(this.list, h('p', { class: 'empty muted' }, 'No contracts for this deal yet.'));
      return;
    }
    render(
      this.list,
      this.contracts.map((contract) =>
        contractCard(contract, {
          onVoid: (c) => this.voidContract(c),
          onRetry: (c) => this.retry(c),
          templateName: (id) => this.templates?.find((template) => template.id === id)?.name ?? null,
          timelineOpen: this.timelineOpen,
        }),
      ),
    );
  }

  private async refresh(): Promise<void> {
    try {
      const before = new Map(this.contracts.map((contract) => [contract.id, contract.status]));
      this.contracts = (await this.api<{ contracts: ContractView[] }>('GET', `/deals/${this.dealId}/contracts`)).contracts;
      const changes = this.contracts
        .filter((contract) => before.get(contract.id) !== contract.status)
        .map((contract) => `${before.has(contract.id) ? '' : 'New contract '}“${contract.title || 'Untitled contract'}”: ${statusLabel(contract.status)}`);
      if (changes.length) this.announcer.textContent = `${changes.join('. ')}.`;
      this.pollError = '';
      this.renderList();
    } catch (error) {
      // Say it once, not on every poll.
      if (messageOf(error) !== this.pollError) this.host.snackbar(`Could not refresh the contracts: ${messageOf(error)}`);
      this.pollError = messageOf(error);
    }
  }

  private async loadTemplates(): Promise<Template[]> {
    if (this.templates) return this.templates;
    try {
      this.templates = (await this.api<{ templates: Template[] }>('GET', '/templates')).templates;
    } catch (error) {
      this.host.snackbar(messageOf(error));
    }
    return this.templates ?? [];
  }

  private async openForm(): Promise<void> {
    if (!this.canSend) return this.host.openSettings();
    const button = this.head.querySelector('button[data-action="open-send"]') as HTMLButtonElement;
    button.disabled = true;
    const [templates, suggestion] = await Promise.all([
      this.loadTemplates(),
      this.api<SignerSuggestion>('GET', `/deals/${this.dealId}/signers`).catch((error) => {
        this.host.snackbar(messageOf(error));
        return null;
      }),
    ]);
    render(
      this.formSlot,
      sendForm({
        templates,
        defaultTemplateId: this.settings?.templateId ?? null,
        suggestion,
        openContracts: this.contracts.filter((contract) => ['pending', 'draft', 'waiting'].includes(contract.status)).length,
        submit: (request) => this.send(request),
        cancel: () => this.closeForm(),
        openSettings: () => this.host.openSettings(),
      }),
    );
    this.renderHead();
    (this.formSlot.querySelector('select, input') as HTMLElement | null)?.focus();
  }

  private closeForm(): void {
    render(this.formSlot);
    this.renderHead();
  }

  private async send(request: SendRequest): Promise<void> {
    try {
      const { contract } = await this.api<{ contract: ContractView }>('POST', `/deals/${this.dealId}/contracts`, request);
      this.closeForm();
      this.host.snackbar(contract.statusReason ?? `Contract sent to ${request.signers.map((signer) => signer.email).join(', ')}`);
      await this.refresh();
    } catch (error) {
      // Field problems are shown next to their fields; the snackbar only points there.
      this.host.snackbar(error instanceof ApiFailure && error.details.length ? 'Some fields of the form need attention' : messageOf(error));
      throw error;
    }
  }

  private async voidContract(contract: ContractView): Promise<void> {
    const confirmed = await this.host.confirm({
      title: 'Void this contract?',
      description: `“${contract.title}” can no longer be signed. This cannot be undone.`,
      okText: 'Void contract',
      cancelText: 'Keep it',
      danger: true,
    });
    if (!confirmed) return;
    await this.act(`/contracts/${contract.id}/void`, () => 'Contract voided');
  }

  private async retry(contract: ContractView): Promise<void> {
    await this.act(`/contracts/${contract.id}/retry`, (after) => after.statusReason ?? 'Contract sent');
  }

  private async act(path: string, success: (contract: ContractView) => string): Promise<void> {
    try {
      const { contract } = await this.api<{ contract: ContractView }>('POST', path);
      this.host.snackbar(success(contract));
    } catch (error) {
      this.host.snackbar(messageOf(error));
    }
    await this.refresh();
  }
}

async function main(): Promise<void> {
  const root = document.getElementById('app')!;
  const host = await connectInPipedrive(root);
  if (!host) return;
  performance.mark(INITIALIZED_MARK);
  host.fitHeight(root);
  const dealId = Number(new URLSearchParams(location.search).get('selectedIds')?.split(',')[0]);
  if (!Number.isSafeInteger(dealId) || dealId <= 0) {
    render(root, h('p', { class: 'notice bad' }, 'This panel belongs in a deal’s sidebar: Pipedrive did not say which deal is open.'));
    return;
  }
  await new DealPanel(root, host, createApi(host.signedToken), dealId).start();
}

void main();
