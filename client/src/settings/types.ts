/** GET/PUT /api/settings (see docs/panel.md). */
export interface Settings {
  templateId: number | null;
  autoSend: { enabled: boolean; pipelineIds: number[] };
  onCompleted: { action: 'won' | 'stage' | 'none'; stageId: number | null };
  attachFiles: boolean;
  writeNotes: boolean;
  dottedsign: { connected: boolean; account: string | null; appAccountAvailable?: boolean };
}

export type SettingsUpdate = Omit<Settings, 'dottedsign'>;
