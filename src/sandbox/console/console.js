// The sandbox console's page: Pipedrive's deal list and deal page, hosting the app's real panel and settings page.
import { extensionUrl, mountExtension } from '/extension-host.js';

const view = document.getElementById('view');
const crumbs = document.getElementById('crumbs');
const snackbar = document.getElementById('snackbar');
const themeToggle = document.getElementById('theme-toggle');
const EXTENSION_ID = 'sandbox-dottedsign-panel';

let state = null;
let theme = localStorage.getItem('console-theme') === 'dark' ? 'dark' : 'light';
let extension = null;
let refreshTimer = null;

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
  return node;
}

async function call(path, init = {}) {
  const answer = await fetch(path, { method: init.method ?? (init.body ? 'POST' : 'GET'), headers: init.body ? { 'content-type': 'application/json' } : {}, body: init.body ? JSON.stringify(init.body) : undefined });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.error ?? `the simulator answered ${answer.status}`);
  return body;
}

function toast(message) {
  snackbar.textContent = message;
  snackbar.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (snackbar.hidden = true), 4000);
}

function applyTheme() {
  document.documentElement.dataset.theme = theme;
  themeToggle.textContent = theme === 'dark' ? 'Light theme' : 'Dark theme';
  extension?.setTheme(theme);
}

themeToggle.addEventListener('click', () => {
  theme = theme === 'dark' ? 'light' : 'dark';
  localStorage.setItem('console-theme', theme);
  applyTheme();
});

function money(value, currency) {
  return value === null || value === undefined ? '—' : new Intl.NumberFormat('en', { style: 'currency', currency: currency || 'EUR' }).format(value);
}

function personName(id) {
  return state.persons.find((person) => person.id === id)?.name ?? '—';
}

/** Loads one of the app's pages into `iframe` the way Pipedrive does: URL with a signed token, SDK answered. */
async function mount(iframe, page, dealId) {
  extension?.destroy();
  const { token } = await call('/console-api/token');
  extension = mountExtension({
    iframe,
    url: extensionUrl(`${state.appUrl}/${page}?id=${EXTENSION_ID}`, { token, userId: state.user.id, companyId: state.company.id, dealId, theme }),
    theme,
    getSignedToken: async () => (await call('/console-api/token')).token,
    onSnackbar: (message) => toast(message),
    onRedirect: (target) => {
      if (target === 'settings') location.hash = '#/settings';
    },
  });
}

function setNav(active, trail) {
  for (const link of document.querySelectorAll('[data-nav]')) link.classList.toggle('active', link.dataset.nav === active);
  crumbs.replaceChildren(...trail);
}

async function showDeals() {
  setNav('deals', ['Deals']);
  state = await call('/console-api/state');
  const title = el('input', { name: 'title', placeholder: 'Deal title', 'aria-label': 'Deal title', 'data-testid': 'deal-title', required: true, value: `Contract for ${new Date().toLocaleDateString('en')}` });
  const person = el('select', { name: 'person', 'aria-label': 'Contact person', 'data-testid': 'deal-person' }, state.persons.map((p) => el('option', { value: p.id }, `${p.name}${p.email ? ` <${p.email}>` : ' (no email)'}`)));
  const form = el(
    'form',
    {
      class: 'add-form',
      onsubmit: async (event) => {
        event.preventDefault();
        const deal = await call('/console-api/deals', { body: { title: title.value, personId: Number(person.value) } }).catch((error) => toast(error.message));
        if (deal?.id) location.hash = `#/deal/${deal.id}`;
      },
    },
    title,
    person,
    el('button', { type: 'submit', 'data-testid': 'add-deal' }, 'Add deal'),
  );
  const rows = [...state.deals].reverse().map((deal) =>
    el(
      'tr',
      { 'data-testid': `deal-row-${deal.id}` },
      el('td', {}, el('a', { href: `#/deal/${deal.id}` }, deal.title)),
      el('td', {}, personName(deal.person_id)),
      el('td', {}, money(deal.value, deal.currency)),
      el('td', {}, el('span', { class: `badge ${deal.status}` }, deal.status)),
      el('td', {}, el('button', { class: 'danger', type: 'button', onclick: () => deleteDeal(deal) }, 'Delete deal')),
    ),
  );
  view.replaceChildren(
    el('div', { class: 'toolbar' }, el('h1', {}, `Deals of ${state.company.name}`)),
    el('div', { class: 'card' }, el('h2', {}, 'Add a deal (Pipedrive sends the app a webhook)'), form),
    el('div', { class: 'card' }, rows.length ? el('table', {}, el('thead', {}, el('tr', {}, ['Title', 'Contact', 'Value', 'Status', ''].map((h) => el('th', {}, h)))), el('tbody', {}, rows)) : el('p', { class: 'empty' }, 'No deals yet.')),
  );
}

async function deleteDeal(deal) {
  if (!confirm(`Delete the deal "${deal.title}"? Its contracts will be voided.`)) return;
  await call(`/console-api/deals/${deal.id}`, { method: 'DELETE' }).catch((error) => toast(error.message));
  toast(`Deal "${deal.title}" deleted`);
  location.hash = '#/deals';
  if (location.hash === '#/deals') route();
}

function noteText(html) {
  // Parsed inertly: DOMParser never runs scripts or loads resources.
  const body = new DOMParser().parseFromString(html, 'text/html').body;
  const blocks = [...body.children].map((child) => child.textContent.trim()).filter(Boolean);
  return (blocks.length ? blocks : [body.textContent.trim()]).join('\n');
}

function dealDetails(data) {
  const { deal, files, notes, signing } = data;
  return [
    el('div', { class: 'card' }, el('h2', {}, 'Details'), el('dl', {}, el('dt', {}, 'Value'), el('dd', {}, money(deal.value, deal.currency)), el('dt', {}, 'Contact'), el('dd', {}, personName(deal.person_id)), el('dt', {}, 'Status'), el('dd', { 'data-testid': 'deal-status' }, deal.status), el('dt', {}, 'Won'), el('dd', {}, deal.won_time ? new Date(deal.won_time).toLocaleString('en') : '—'))),
    el(
      'div',
      { class: 'card' },
      el('h2', {}, 'DottedSign simulator: signing pages'),
      signing.length
        ? el('ul', { class: 'plain' }, signing.flatMap((task) => task.signers.map((signer) => el('li', { 'data-testid': 'signing-link' }, el('a', { href: signer.link, target: '_blank', rel: 'noopener' }, `Open the signing page as ${signer.name}`), el('span', { class: 'muted' }, `${signer.email} · ${signer.status} · task ${task.taskId} ${task.status}`)))))
        : el('p', { class: 'empty' }, 'No task at DottedSign for this deal yet.'),
    ),
    el('div', { class: 'card' }, el('h2', {}, `Files (${files.length})`), files.length ? el('ul', { class: 'plain', 'data-testid': 'deal-files' }, files.map((file) => el('li', {}, el('a', { href: `/console-api/files/${file.id}`, target: '_blank' }, file.file_name), el('span', { class: 'muted' }, `${Math.ceil(file.file_size / 1024)} KB`)))) : el('p', { class: 'empty' }, 'No files.')),
    el('div', { class: 'card' }, el('h2', {}, `Notes (${notes.length})`), notes.length ? el('ul', { class: 'plain', 'data-testid': 'deal-notes' }, notes.map((note) => el('li', { class: 'note' }, noteText(note.content)))) : el('p', { class: 'empty' }, 'No notes.')),
  ];
}

async function showDeal(dealId) {
  state = state ?? (await call('/console-api/state'));
  let data;
  try {
    data = await call(`/console-api/deals/${dealId}`);
  } catch (error) {
    view.replaceChildren(el('div', { class: 'card' }, el('p', {}, `This deal is gone: ${error.message}. `, el('a', { href: '#/deals' }, 'Back to deals'))));
    return;
  }
  setNav('deals', [el('a', { href: '#/deals' }, 'Deals'), ' / ', data.deal.title]);
  const details = el('div', {}, dealDetails(data));
  const badge = el('span', { class: `badge ${data.deal.status}`, 'data-testid': 'deal-badge' }, data.deal.status);
  const iframe = el('iframe', { class: 'panel-frame', title: 'DottedSign Contracts panel', 'data-testid': 'panel-frame' });
  view.replaceChildren(
    el('div', { class: 'deal-head' }, el('h1', {}, data.deal.title), badge, el('span', { class: 'spacer' }), el('button', { class: 'danger', type: 'button', 'data-testid': 'delete-deal', onclick: () => deleteDeal(data.deal) }, 'Delete deal')),
    el('div', { class: 'deal' }, details, el('div', { class: 'card app-panel' }, iframe)),
  );
  await mount(iframe, 'panel', dealId);
  refreshTimer = setInterval(async () => {
    const next = await call(`/console-api/deals/${dealId}`).catch(() => null);
    if (!next || location.hash !== `#/deal/${dealId}`) return;
    details.replaceChildren(...dealDetails(next));
    badge.className = `badge ${next.deal.status}`;
    badge.textContent = next.deal.status;
  }, 1500);
}

async function showSettings() {
  state = state ?? (await call('/console-api/state'));
  setNav('settings', ['App settings · DottedSign Contracts']);
  const iframe = el('iframe', { class: 'settings-frame', title: 'DottedSign Contracts settings', 'data-testid': 'settings-frame' });
  view.replaceChildren(el('div', { class: 'card app-panel' }, iframe));
  await mount(iframe, 'settings');
}

async function route() {
  clearInterval(refreshTimer);
  extension?.destroy();
  extension = null;
  const [, page, id] = location.hash.match(/^#\/(\w+)(?:\/(\d+))?/) ?? [];
  try {
    if (page === 'deal' && id) await showDeal(Number(id));
    else if (page === 'settings') await showSettings();
    else await showDeals();
  } catch (error) {
    toast(error.message);
  }
  document.getElementById('who').textContent = state ? `${state.user?.name ?? ''} · ${state.company.name}` : '';
}

window.addEventListener('hashchange', route);
applyTheme();
route();
