import { ApiFailure, type FieldProblem } from '../shared/api';
import { h } from '../shared/dom';
import type { Template } from '../panel/types';
import type { Settings, SettingsUpdate } from './types';

const FIELDS = ['templateId', 'autoSend.enabled', 'autoSend.pipelineIds', 'onCompleted.action', 'onCompleted.stageId', 'attachFiles', 'writeNotes'] as const;

export interface SettingsFormOptions {
  settings: Settings;
  /** Null when there is no list: DottedSign not connected or refused, or the list could not be loaded. */
  templates: Template[] | null;
  /** Given when a connected account's templates could not be loaded: asks for them again. */
  reloadTemplates?: () => void;
  /** Resolves to the settings as stored. */
  save(update: SettingsUpdate): Promise<Settings>;
}

function parseIds(text: string): number[] | null {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  return parts.every((part) => /^\d{1,15}$/.test(part) && Number(part) > 0) ? parts.map(Number) : null;
}

/**
 * Default template, automatic sending, what happens on completion, write-back options; errors next to fields.
 * Read-only (every control disabled, no Save) when the user may not change the settings (`settings.canEdit`).
 */
export function settingsForm({ settings, templates, reloadTemplates, save }: SettingsFormOptions): HTMLFormElement {
  const errorSlots = new Map<string, HTMLElement>();
  const slot = (field: string) => {
    const element = h('div', { class: 'field-error', 'data-error-for': field, role: 'alert' });
    errorSlots.set(field, element);
    return element;
  };

  const template = h(
    'select',
    { name: 'templateId', disabled: !templates },
    h('option', { value: '' }, templates ? 'None (no automatic contracts)' : reloadTemplates ? 'The templates could not be loaded' : settings.dottedsign.status === 'reconnect_required' ? 'Reconnect DottedSign to list templates' : 'Connect DottedSign to list templates'),
    (templates ?? []).map((t) => h('option', { value: t.id }, t.name)),
  );
  if (settings.templateId !== null && !(templates ?? []).some((t) => t.id === settings.templateId)) {
    // Without a template list (not connected, or the connection was refused) it is unknown, not missing.
    template.append(h('option', { value: settings.templateId }, templates ? `Template ${settings.templateId} (not found in DottedSign)` : `Template ${settings.templateId}`));
  }
  template.value = settings.templateId === null ? '' : String(settings.templateId);

  const autoSend = h('input', { type: 'checkbox', name: 'autoSend.enabled', checked: settings.autoSend.enabled });
  const pipelines = h('input', { type: 'text', name: 'autoSend.pipelineIds', inputmode: 'numeric', placeholder: 'Every pipeline', value: settings.autoSend.pipelineIds.join(', ') });
  const stageId = h('input', { type: 'number', name: 'onCompleted.stageId', min: 1, step: 1, placeholder: 'Stage id', value: settings.onCompleted.stageId ?? '' });
  const action = (value: Settings['onCompleted']['action'], label: string) =>
    h('label', { class: 'check' }, h('input', { type: 'radio', name: 'onCompleted.action', value, checked: settings.onCompleted.action === value, onChange: syncEnabled }), label);
  const attachFiles = h('input', { type: 'checkbox', name: 'attachFiles', checked: settings.attachFiles });
  const writeNotes = h('input', { type: 'checkbox', name: 'writeNotes', checked: settings.writeNotes });
  const saveButton = h('button', { type: 'submit', class: 'primary' }, 'Save settings');
  const saved = h('span', { class: 'saved muted', role: 'status' });

  function chosenAction(): Settings['onCompleted']['action'] {
    return ((form.querySelector('input[name="onCompleted.action"]:checked') as HTMLInputElement | null)?.value ?? 'none') as Settings['onCompleted']['action'];
  }
  function syncEnabled() {
    pipelines.disabled = !autoSend.checked;
    stageId.disabled = chosenAction() !== 'stage';
  }
  const readOnly = !settings.canEdit;
  // The version of the settings this form shows: the page's read, then each save's answer.
  let version = settings.version;
  autoSend.addEventListener('change', syncEnabled);

  const form = h(
    'form',
    { class: 'settings-form', novalidate: true },
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Contract template'),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Default template'), template, h('span', { class: 'hint muted' }, 'Sent automatically for new deals, and preselected in the deal panel.'), slot('templateId')),
      reloadTemplates ? h('button', { type: 'button', 'data-action': 'reload-templates', onClick: reloadTemplates }, 'Load the templates again') : null,
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Automatic sending'),
      h('label', { class: 'check' }, autoSend, 'Send the contract to the deal’s contact when a deal is added'),
      slot('autoSend.enabled'),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Only in these pipelines'), pipelines, h('span', { class: 'hint muted' }, 'Pipeline ids, separated by commas. Empty: every pipeline.'), slot('autoSend.pipelineIds')),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'When everyone has signed'),
      h('div', { class: 'choices', role: 'radiogroup', 'aria-label': 'When everyone has signed' }, action('won', 'Mark the deal as won'), action('stage', 'Move the deal to a stage'), action('none', 'Leave the deal as it is')),
      slot('onCompleted.action'),
      h('label', { class: 'field narrow' }, h('span', { class: 'field-label' }, 'Stage id'), stageId, slot('onCompleted.stageId')),
      h('label', { class: 'check' }, attachFiles, 'Attach the signed PDF and the audit trail to the deal'),
      slot('attachFiles'),
      h('label', { class: 'check' }, writeNotes, 'Write a note on the deal about the contract'),
      slot('writeNotes'),
    ),
    slot('form'),
    readOnly ? null : h('div', { class: 'form-actions' }, saveButton, saved),
  );
  syncEnabled();
  if (readOnly) {
    form.dataset.readOnly = '';
    form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select').forEach((control) => (control.disabled = true));
  }

  const clearErrors = () => {
    errorSlots.forEach((element) => (element.textContent = ''));
    form.querySelectorAll('[aria-invalid]').forEach((element) => element.removeAttribute('aria-invalid'));
  };
  const showErrors = (problems: FieldProblem[]) => {
    for (const problem of problems) {
      const field = FIELDS.find((name) => problem.field === name || problem.field.startsWith(`${name}.`)) ?? 'form';
      const target = errorSlots.get(field)!;
      target.textContent = [target.textContent, problem.message].filter(Boolean).join(' · ');
      form.querySelector(`[name="${field}"]`)?.setAttribute('aria-invalid', 'true');
    }
    form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (readOnly) return;
    clearErrors();
    saved.textContent = '';
    const pipelineIds = parseIds(pipelines.value);
    const stage = stageId.value.trim() === '' ? null : Number(stageId.value);
    const problems: FieldProblem[] = [];
    if (!pipelineIds) problems.push({ field: 'autoSend.pipelineIds', message: 'Enter pipeline ids (whole numbers) separated by commas' });
    if (chosenAction() === 'stage' && !(stage && Number.isInteger(stage) && stage > 0)) problems.push({ field: 'onCompleted.stageId', message: 'Enter the id of the stage to move the deal to' });
    if (problems.length) return showErrors(problems);
    saveButton.disabled = true;
    try {
      ({ version } = await save({
        version,
        templateId: template.value ? Number(template.value) : null,
        autoSend: { enabled: autoSend.checked, pipelineIds: pipelineIds! },
        onCompleted: { action: chosenAction(), stageId: chosenAction() === 'stage' ? stage : null },
        attachFiles: attachFiles.checked,
        writeNotes: writeNotes.checked,
      }));
      saved.textContent = 'Saved';
    } catch (error) {
      if (error instanceof ApiFailure && error.details.length) showErrors(error.details);
      else if (error instanceof Error) showErrors([{ field: 'form', message: error.message }]);
    } finally {
      saveButton.disabled = false;
    }
  });
  return form;
}
