import { h } from '../shared/dom';
import { formatTime, humanize } from '../shared/format';
import type { ContractStatus, ContractView } from './types';

type Tone = 'ok' | 'info' | 'warn' | 'bad' | 'off';

const STATUS: Record<ContractStatus, { label: string; tone: Tone }> = {
  pending: { label: 'Sending', tone: 'info' },
  needs_signer: { label: 'Needs signer', tone: 'warn' },
  failed: { label: 'Failed', tone: 'bad' },
  draft: { label: 'Draft', tone: 'off' },
  waiting: { label: 'Out for signature', tone: 'info' },
  completed: { label: 'Completed', tone: 'ok' },
  declined: { label: 'Declined', tone: 'bad' },
  voided: { label: 'Voided', tone: 'off' },
  expired: { label: 'Expired', tone: 'warn' },
  discarded: { label: 'Discarded', tone: 'off' },
};

const SIGNER: Record<string, { label: string; tone: Tone }> = {
  waiting: { label: 'Waiting', tone: 'off' },
  viewed: { label: 'Viewed', tone: 'info' },
  signed: { label: 'Signed', tone: 'ok' },
  declined: { label: 'Declined', tone: 'bad' },
};

const EVENT: Record<string, string> = {
  created: 'Created in DottedSign',
  sent: 'Sent for signature',
  viewed: 'Viewed',
  signed: 'Signed',
  completed: 'Everyone signed',
  declined: 'Declined',
  voided: 'Voided',
  expired: 'Expired',
  discarded: 'Discarded',
  failed: 'Sending failed',
  needs_signer: 'Waiting for a signer',
  deal_won: 'Deal marked as won',
  deal_moved: 'Deal moved to the chosen stage',
  deal_update_skipped: 'Deal not updated',
  file_attached: 'File attached to the deal',
  note_written: 'Note written on the deal',
  write_back_skipped: 'Deal update step skipped',
  deal_deleted: 'Deal deleted in Pipedrive',
  task_deleted: 'Deleted in DottedSign',
};

const ONCE = new Set(['created', 'sent']);

const FILE_LABEL = { completed: 'Signed PDF', audit_trail: 'Audit trail' } as const;

export interface CardActions {
  /** Settles once the action is over (confirmed or not, answered or failed): its button is busy until then. */
  onVoid(contract: ContractView): Promise<void>;
  onRetry(contract: ContractView): Promise<void>;
  templateName(id: number | null): string | null;
  /** Whether the user had opened this contract's timeline (kept across live updates). */
  timelineOpen: Set<number>;
}

export function statusLabel(status: ContractStatus): string {
  return STATUS[status]?.label ?? humanize(status);
}

export function statusBadge(status: ContractStatus) {
  const tone = STATUS[status]?.tone ?? 'off';
  return h('span', { class: `badge tone-${tone}`, 'data-status': status }, statusLabel(status));
}

function signerRow(signer: ContractView['signers'][number], position: number | null) {
  const state = SIGNER[signer.status] ?? { label: humanize(signer.status), tone: 'off' as Tone };
  return h(
    'li',
    { class: 'signer', 'data-email': signer.email },
    h('div', { class: 'signer-who' }, position ? h('span', { class: 'signer-order' }, `${position}.`) : null, h('span', { class: 'signer-name' }, signer.name), h('span', { class: 'signer-email muted' }, signer.email)),
    h(
      'div',
      { class: 'signer-state' },
      h('span', { class: `badge tone-${state.tone}`, 'data-signer-status': signer.status }, state.label),
      signer.signedAt ? h('time', { class: 'muted', datetime: signer.signedAt }, formatTime(signer.signedAt)) : null,
    ),
  );
}

/** Newest first; the app and DottedSign both report creating and sending, which the user needs to see once. */
function timelineEvents(contract: ContractView): ContractView['events'] {
  const seen = new Set<string>();
  return contract.events
    .filter((event) => {
      if (!ONCE.has(event.type)) return true;
      if (seen.has(event.type)) return false;
      seen.add(event.type);
      return true;
    })
    .reverse();
}

function timeline(contract: ContractView, actions: CardActions) {
  const details = h(
    'details',
    { class: 'timeline', open: actions.timelineOpen.has(contract.id) },
    h('summary', null, 'Timeline'),
    h(
      'ol',
      null,
      timelineEvents(contract).map((event) => {
        const reason = typeof event.details?.reason === 'string' ? event.details.reason : null;
        const actor = event.actor && !event.actor.startsWith('user:') ? event.actor : null;
        return h(
          'li',
          { 'data-event': event.type },
          h('div', { class: 'event-what' }, h('span', null, EVENT[event.type] ?? humanize(event.type)), actor ? h('span', { class: 'muted event-actor' }, actor) : null, reason ? h('span', { class: 'muted event-reason' }, reason) : null),
          h('time', { class: 'muted', datetime: event.at }, formatTime(event.at)),
        );
      }),
    ),
  );
  details.addEventListener('toggle', () => (details.open ? actions.timelineOpen.add(contract.id) : actions.timelineOpen.delete(contract.id)));
  return details;
}

/**
 * Puts the latest answer's download links into the cards already on screen. The server signs fresh, short-lived
 * links in every answer, and a card is only rebuilt when something the user sees changed, so without this the
 * links would keep the first (expiring) token. Rebuilding nothing keeps open timelines and focus as they are.
 */
export function refreshDownloadLinks(list: ParentNode, contracts: ContractView[]): void {
  for (const contract of contracts) {
    for (const file of contract.downloads) {
      const link = list.querySelector<HTMLAnchorElement>(`article[data-contract-id="${contract.id}"] a[data-file="${file.kind}"]`);
      if (link && link.getAttribute('href') !== file.url) link.setAttribute('href', file.url);
    }
  }
}

/** A card's action button: disabled, saying what it does, until the action settles (no second click meanwhile). */
function actionButton(action: string, label: string, busyLabel: string, run: () => Promise<void>, className?: string): HTMLButtonElement {
  const button: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      class: className,
      'data-action': action,
      onClick: () => {
        button.disabled = true;
        button.textContent = busyLabel;
        void run().finally(() => {
          button.disabled = false;
          button.textContent = label;
        });
      },
    },
    label,
  );
  return button;
}

export function contractCard(contract: ContractView, actions: CardActions) {
  const template = actions.templateName(contract.templateId);
  const canVoid = contract.status === 'waiting' || contract.status === 'draft';
  const canRetry = contract.status === 'failed' || contract.status === 'needs_signer';
  const tone = STATUS[contract.status]?.tone ?? 'off';
  return h(
    'article',
    { class: 'contract', 'data-contract-id': contract.id, 'data-status': contract.status },
    h('header', { class: 'contract-head' }, h('h3', { class: 'contract-title' }, contract.title || 'Untitled contract'), statusBadge(contract.status)),
    h('p', { class: 'contract-meta muted' }, [template, `Created ${formatTime(contract.createdAt)}`, contract.ordered ? 'Signing in order' : null].filter(Boolean).join(' · ')),
    contract.statusReason ? h('p', { class: `notice ${tone} contract-reason` }, contract.statusReason) : null,
    contract.signers.length ? h('ul', { class: 'signers' }, contract.signers.map((signer, index) => signerRow(signer, contract.ordered ? index + 1 : null))) : null,
    contract.downloads.length
      ? h(
          'p',
          { class: 'downloads' },
          contract.downloads.map((file) => h('a', { href: file.url, target: '_blank', rel: 'noopener noreferrer', 'data-file': file.kind }, FILE_LABEL[file.kind])),
        )
      : null,
    contract.events.length ? timeline(contract, actions) : null,
    canVoid || canRetry
      ? h(
          'footer',
          { class: 'contract-actions' },
          canRetry ? actionButton('retry', 'Retry', 'Retrying…', () => actions.onRetry(contract)) : null,
          canVoid ? actionButton('void', 'Void', 'Voiding…', () => actions.onVoid(contract), 'danger') : null,
        )
      : null,
  );
}
