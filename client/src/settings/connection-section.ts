import { h } from '../shared/dom';
import type { Settings } from './types';

export interface ConnectionActions {
  connect(): void;
  connectAppAccount(): void;
  disconnect(): void;
}

/** The DottedSign account: who is connected, or how to connect. */
export function connectionSection(connection: Settings['dottedsign'], actions: ConnectionActions) {
  return h(
    'section',
    { class: 'card', 'data-section': 'connection' },
    h('h2', null, 'DottedSign account'),
    connection.connected
      ? h(
          'div',
          { class: 'row', 'data-state': 'connected' },
          h('p', null, h('span', { class: 'badge tone-ok' }, 'Connected'), h('strong', { class: 'account' }, connection.account ?? 'DottedSign account (no email shared)')),
          h('button', { type: 'button', class: 'danger', 'data-action': 'disconnect', onClick: actions.disconnect }, 'Disconnect'),
        )
      : h(
          'div',
          { class: 'row', 'data-state': 'not_connected' },
          h('p', { class: 'muted' }, 'Connect the DottedSign account that sends your contracts.'),
          h(
            'div',
            { class: 'buttons' },
            connection.appAccountAvailable ? h('button', { type: 'button', 'data-action': 'connect-app-account', onClick: actions.connectAppAccount }, 'Use the app’s DottedSign account') : null,
            h('button', { type: 'button', class: 'primary', 'data-action': 'connect', onClick: actions.connect }, 'Connect DottedSign'),
          ),
        ),
  );
}
