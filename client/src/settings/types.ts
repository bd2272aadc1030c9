/** GET/PUT /api/settings (see docs/panel.md). */
export interface Settings {
  /** Whether this user may change the settings (a Pipedrive admin); otherwise the page is read-only. */
  canEdit: boolean;
  /** `reinstall_required`: Pipedrive no longer accepts this user's authorization of the app. */
  pipedrive: { authorization: 'ok' | 'reinstall_required' };
  /** Sent back with a save: one made from settings another admin has changed since is refused (409 `settings_changed`). */
  version: string;
  templateId: number | null;
  autoSend: { enabled: boolean; pipelineIds: number[] };
  onCompleted: { action: 'won' | 'stage' | 'none'; stageId: number | null };
  attachFiles: boolean;
  writeNotes: boolean;
  dottedsign: {
    connected: boolean;
    /** `reconnect_required`: DottedSign refused the stored authorization; connecting again fixes it. */
    status: 'not_connected' | 'ok' | 'reconnect_required';
    account: string | null;
    appAccountAvailable?: boolean;
  };
}

export type SettingsUpdate = Omit<Settings, 'dottedsign' | 'canEdit' | 'pipedrive'>;
