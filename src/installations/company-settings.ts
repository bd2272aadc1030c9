import { createHash } from 'node:crypto';
import { z } from 'zod';

/** What a company chose on the settings page. Stored in `companies.settings`, always read through here. */
export interface CompanySettings {
  templateId: string | null;
  autoSend: { enabled: boolean; pipelineIds: number[] };
  onCompleted: { action: 'won' | 'stage' | 'none'; stageId: number | null };
  attachFiles: boolean;
  writeNotes: boolean;
}

export const DEFAULT_SETTINGS: CompanySettings = {
  templateId: null,
  autoSend: { enabled: true, pipelineIds: [] },
  onCompleted: { action: 'won', stageId: null },
  attachFiles: true,
  writeNotes: true,
};

const positiveId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** A partial update from `PUT /api/settings`: unknown fields and wrong types are rejected. */
export const settingsUpdate = z
  .object({
    templateId: z.union([positiveId.transform(String), z.string().regex(/^\d{1,18}$/), z.null()]).optional(),
    autoSend: z
      .object({ enabled: z.boolean().optional(), pipelineIds: z.array(positiveId).max(500).optional() })
      .strict()
      .optional(),
    onCompleted: z
      .object({ action: z.enum(['won', 'stage', 'none']).optional(), stageId: z.union([positiveId, z.null()]).optional() })
      .strict()
      .optional(),
    attachFiles: z.boolean().optional(),
    writeNotes: z.boolean().optional(),
  })
  .strict();

export type SettingsUpdate = z.infer<typeof settingsUpdate>;

/**
 * What the settings page read, so a save made from an older read (another admin saved meanwhile) is refused instead
 * of silently writing back the older values. Derived from the settings themselves: only a change of them counts.
 */
export function settingsVersion(settings: CompanySettings): string {
  return createHash('sha256').update(JSON.stringify(settings)).digest('base64url').slice(0, 16);
}

/** Stored JSON (possibly older or partial) → complete settings. */
export function readSettings(stored: unknown): CompanySettings {
  const value = (stored ?? {}) as Partial<CompanySettings>;
  return {
    templateId: value.templateId ?? DEFAULT_SETTINGS.templateId,
    autoSend: { ...DEFAULT_SETTINGS.autoSend, ...value.autoSend },
    onCompleted: { ...DEFAULT_SETTINGS.onCompleted, ...value.onCompleted },
    attachFiles: value.attachFiles ?? DEFAULT_SETTINGS.attachFiles,
    writeNotes: value.writeNotes ?? DEFAULT_SETTINGS.writeNotes,
  };
}

/** Applies an update; a stage action without a stage is a validation error, not a silent no-op. */
export function applySettings(current: CompanySettings, update: SettingsUpdate): CompanySettings | { error: string } {
  const next: CompanySettings = {
    templateId: update.templateId === undefined ? current.templateId : update.templateId,
    autoSend: { ...current.autoSend, ...update.autoSend },
    onCompleted: { ...current.onCompleted, ...update.onCompleted },
    attachFiles: update.attachFiles ?? current.attachFiles,
    writeNotes: update.writeNotes ?? current.writeNotes,
  };
  if (next.onCompleted.action === 'stage' && !next.onCompleted.stageId) {
    return { error: 'onCompleted.stageId: required when onCompleted.action is "stage"' };
  }
  return next;
}

/**
 * Whether `next` sends deals automatically that `current` did not: auto-send turned on or given a default template, or
 * a pipeline added to its list (an empty list means every pipeline).
 */
export function autoSendWidens(current: CompanySettings, next: CompanySettings): boolean {
  const sends = (settings: CompanySettings) => settings.autoSend.enabled && settings.templateId !== null;
  if (!sends(next)) return false;
  if (!sends(current)) return true;
  const [before, after] = [current.autoSend.pipelineIds, next.autoSend.pipelineIds];
  if (!before.length) return false;
  return !after.length || after.some((pipelineId) => !before.includes(pipelineId));
}
