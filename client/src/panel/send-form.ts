import { ApiFailure, type FieldProblem } from '../shared/api';
import { h } from '../shared/dom';
import type { SignerSuggestion, Template } from './types';

export interface SendRequest {
  templateId: number;
  signers: Array<{ name: string; email: string }>;
  ordered: boolean;
  /** The same for every try of the same content: the server sends it once, however often it is submitted. */
  requestId: string;
}

export interface SendFormOptions {
  templates: Template[];
  defaultTemplateId: number | null;
  suggestion: SignerSuggestion | null;
  /** How many of the deal's contracts are being sent or out for signature: sending makes one more. */
  openContracts: number;
  submit(request: SendRequest): Promise<void>;
  cancel(): void;
  openSettings(): void;
}

const SUGGESTION_NOTE: Record<Exclude<SignerSuggestion['state'], 'ready'>, (s: SignerSuggestion) => string> = {
  no_contact: () => 'This deal has no contact person. Enter the signer below.',
  no_email: (s) => `${s.person?.name ?? 'The contact person'} has no email address. Enter the signer’s email below.`,
  deal_not_found: () => 'Pipedrive did not return this deal. Enter the signer below.',
};

/** The "Send contract" form: template, signers prefilled from the deal's contact (editable), signing order. */
export function sendForm(options: SendFormOptions): HTMLFormElement {
  const errors = new Map<string, HTMLElement>();
  const errorSlot = (field: string) => {
    const slot = h('div', { class: 'field-error', 'data-error-for': field, role: 'alert' });
    errors.set(field, slot);
    return slot;
  };

  const templateSelect = h(
    'select',
    { name: 'templateId', required: true },
    h('option', { value: '', disabled: true, selected: options.defaultTemplateId === null }, 'Choose a template…'),
    options.templates.map((template) => h('option', { value: template.id, selected: template.id === options.defaultTemplateId }, template.name)),
  );
  templateSelect.value = options.defaultTemplateId === null ? '' : String(options.defaultTemplateId);
  const signerList = h('ol', { class: 'signer-inputs' });
  const orderedBox = h('input', { type: 'checkbox', name: 'ordered' });
  const sendButton = h('button', { type: 'submit', class: 'primary' }, 'Send for signature');

  const addSigner = (signer = { name: '', email: '' }) => {
    const row = h(
      'li',
      { class: 'signer-input' },
      h('input', { type: 'text', name: 'name', placeholder: 'Name', 'aria-label': 'Signer name', value: signer.name, maxlength: 200 }),
      h('input', { type: 'email', name: 'email', placeholder: 'email@example.com', 'aria-label': 'Signer email', value: signer.email, maxlength: 320 }),
      h('button', { type: 'button', class: 'link remove', 'aria-label': 'Remove signer', title: 'Remove signer', onClick: () => removeSigner(row) }, 'Remove'),
      h('div', { class: 'field-error', role: 'alert' }),
    );
    signerList.append(row);
    refreshRemoveButtons();
  };
  const removeSigner = (row: HTMLElement) => {
    if (signerList.children.length > 1) row.remove();
    refreshRemoveButtons();
  };
  const refreshRemoveButtons = () => {
    const rows = [...signerList.children] as HTMLElement[];
    rows.forEach((row) => ((row.querySelector('button.remove') as HTMLButtonElement).hidden = rows.length === 1));
  };

  const suggestion = options.suggestion;
  const prefill = suggestion?.signers.length ? suggestion.signers : [{ name: suggestion?.person?.name ?? '', email: '' }];
  prefill.forEach((signer) => addSigner(signer));

  const clearErrors = () => {
    errors.forEach((slot) => (slot.textContent = ''));
    signerList.querySelectorAll('.field-error').forEach((slot) => (slot.textContent = ''));
    form.querySelectorAll('[aria-invalid]').forEach((input) => input.removeAttribute('aria-invalid'));
  };
  const showErrors = (problems: FieldProblem[]) => {
    for (const problem of problems) {
      const signer = /^signers\.(\d+)\.(name|email)$/.exec(problem.field);
      if (signer) {
        const row = signerList.children[Number(signer[1])];
        row?.querySelector(`input[name="${signer[2]}"]`)?.setAttribute('aria-invalid', 'true');
        const slot = row?.querySelector('.field-error');
        if (slot) slot.textContent = [slot.textContent, `${signer[2] === 'email' ? 'Email' : 'Name'}: ${problem.message}`].filter(Boolean).join(' · ');
        continue;
      }
      const slot = errors.get(problem.field.startsWith('templateId') ? 'templateId' : 'signers') ?? errors.get('form')!;
      slot.textContent = problem.message;
    }
    form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  };

  const collect = (): Omit<SendRequest, 'requestId'> | FieldProblem[] => {
    const problems: FieldProblem[] = [];
    const templateId = Number(templateSelect.value);
    if (!templateId) problems.push({ field: 'templateId', message: 'Choose the template to send' });
    const signers = ([...signerList.children] as HTMLElement[]).map((row, index) => {
      const name = (row.querySelector('input[name="name"]') as HTMLInputElement).value.trim();
      const email = (row.querySelector('input[name="email"]') as HTMLInputElement).value.trim();
      if (!name) problems.push({ field: `signers.${index}.name`, message: 'required' });
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) problems.push({ field: `signers.${index}.email`, message: email ? 'not a valid address' : 'required' });
      return { name, email };
    });
    return problems.length ? problems : { templateId, signers, ordered: orderedBox.checked };
  };
  // A try whose answer was lost (a timeout, a dropped connection) may have sent the contract: trying the same
  // content again reuses its id, so the server answers with that contract instead of sending a second.
  let lastTry: { content: string; requestId: string } | null = null;
  const requestIdFor = (content: string) => {
    if (lastTry?.content !== content) lastTry = { content, requestId: crypto.randomUUID() };
    return lastTry.requestId;
  };

  const form = h(
    'form',
    { class: 'send-form', novalidate: true, 'aria-label': 'Send contract' },
    h('h2', null, 'Send a contract'),
    options.openContracts
      ? h('p', { class: 'notice warn', 'data-state': 'open_contract' }, `This deal already has ${options.openContracts === 1 ? 'a contract' : `${options.openContracts} contracts`} being sent or out for signature. Sending creates another one.`)
      : null,
    suggestion && suggestion.state !== 'ready' ? h('p', { class: 'notice warn', 'data-state': suggestion.state }, SUGGESTION_NOTE[suggestion.state](suggestion)) : null,
    options.defaultTemplateId === null
      ? h('p', { class: 'notice', 'data-state': 'no_template' }, 'No default template is set. Choose one here, or set a default in the app settings.', h('button', { type: 'button', class: 'link', onClick: options.openSettings }, 'Settings'))
      : null,
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Template'), templateSelect, errorSlot('templateId')),
    h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Signers'), signerList, errorSlot('signers'), h('button', { type: 'button', class: 'link add-signer', onClick: () => addSigner() }, '+ Add signer')),
    h('label', { class: 'check' }, orderedBox, 'Signers sign one after another, in this order'),
    errorSlot('form'),
    h('div', { class: 'form-actions' }, sendButton, h('button', { type: 'button', onClick: options.cancel }, 'Cancel')),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors();
    const request = collect();
    if (Array.isArray(request)) return showErrors(request);
    sendButton.disabled = true;
    sendButton.textContent = 'Sending…';
    try {
      await options.submit({ ...request, requestId: requestIdFor(JSON.stringify(request)) });
    } catch (error) {
      if (error instanceof ApiFailure && error.details.length) showErrors(error.details);
    } finally {
      sendButton.disabled = false;
      sendButton.textContent = 'Send for signature';
    }
  });
  return form;
}
