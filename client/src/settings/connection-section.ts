import { h } from '../shared/dom';
import type { Settings } from './types';

export interface ConnectionActions {
  connect(): void;
  connectAppAccount(): void;
  disconnect(): void;
}

/**
 * The DottedSign account: who is connected, or how to connect; a warning with "Reconnect" when DottedSign refused
 * the stored authorization. Without `canEdit` (not an admin) it only shows the state, with no buttons.
 */
export function connectionSection(connection: Settings['dottedsign'], actions: ConnectionActions, canEdit: boolean) {
  const account = h('strong', { class: 'account' }, connection.account ?? 'DottedSign account (no email shared)');
  const disconnect = canEdit ? h('button', { type: 'button', class: 'danger', 'data-action': 'disconnect', onClick: actions.disconnect }, 'Disconnect') : null;
  const connectButtons = (label: string, action: string) =>
    canEdit
      ? h(
          'div',
          { class: 'buttons' },
          connection.appAccountAvailable ? h('button', { type: 'button', 'data-action': 'connect-app-account', onClick: actions.connectAppAccount }, 'Use the app’s DottedSign account') : null,
          h('button', { type: 'button', class: 'primary', 'data-action': action, onClick: actions.connect }, label),
        )
      : null;

  let body: HTMLElement;
  if (connection.connected && connection.status === 'reconnect_required') {
    body = h(
      'div',
      { class: 'stack', 'data-state': 'reconnect_required' },
      h('p', null, h('span', { class: 'badge tone-warn' }, 'Reconnect needed'), account),
      h(
        'div',
        { class: 'notice warn', role: 'alert' },
        h('span', null, canEdit ? 'DottedSign no longer accepts this connection, so no contracts can be sent. Reconnect DottedSign to continue.' : 'DottedSign no longer accepts this connection, so no contracts can be sent. Ask a Pipedrive admin to reconnect DottedSign.'),
      ),
      canEdit ? h('div', { class: 'row' }, connectButtons('Reconnect DottedSign', 'reconnect'), disconnect) : null,
    );
  } else if (connection.connected) {
    body = h('div', { class: 'row', 'data-state': 'connected' }, h('p', null, h('span', { class: 'badge tone-ok' }, 'Connected'), account), disconnect);
  } else {
    body = h(
      'div',
      { class: 'row', 'data-state': 'not_connected' },
      h('p', { class: 'muted' }, canEdit ? 'Connect the DottedSign account that sends your contracts.' : 'DottedSign is not connected. A Pipedrive admin can connect it here.'),
      connectButtons('Connect DottedSign', 'connect'),
    );
  }
  return h('section', { class: 'card', 'data-section': 'connection' }, h('h2', null, 'DottedSign account'), body);
}
