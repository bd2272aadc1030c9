import type { Company, Deal, Note, Person, StoredFile, User, Webhook } from './pipedrive.entities';
import { rfc3339, v1DateTime } from './timestamps';

/** Maps simulator records to the JSON Pipedrive answers (v2 for deals and persons, v1 for the rest). */

export function dealV2(deal: Deal) {
  return {
    id: deal.id,
    title: deal.title,
    owner_id: deal.ownerId,
    person_id: deal.personId,
    org_id: deal.orgId,
    pipeline_id: deal.pipelineId,
    stage_id: deal.stageId,
    value: deal.value,
    currency: deal.currency,
    status: deal.status,
    is_archived: deal.isArchived,
    archive_time: rfc3339(deal.archiveTime),
    is_deleted: deal.isDeleted,
    add_time: rfc3339(deal.addTime),
    update_time: rfc3339(deal.updateTime),
    stage_change_time: rfc3339(deal.stageChangeTime),
    won_time: rfc3339(deal.wonTime),
    lost_time: rfc3339(deal.lostTime),
    close_time: rfc3339(deal.closeTime),
    lost_reason: null,
    probability: null,
    expected_close_date: null,
    visible_to: deal.visibleTo,
    label_ids: [],
    custom_fields: deal.customFields,
  };
}

export function personV2(person: Person) {
  return {
    id: person.id,
    name: person.name,
    owner_id: person.ownerId,
    org_id: person.orgId,
    emails: person.emails.map((email) => ({ ...email })),
    phones: person.phones.map((phone) => ({ ...phone })),
    is_deleted: person.isDeleted,
    add_time: rfc3339(person.addTime),
    update_time: rfc3339(person.updateTime),
    visible_to: 3,
    label_ids: [],
    custom_fields: {},
  };
}

export function dealV1(deal: Deal) {
  return {
    id: deal.id,
    title: deal.title,
    user_id: deal.ownerId,
    person_id: deal.personId,
    org_id: deal.orgId,
    pipeline_id: deal.pipelineId,
    stage_id: deal.stageId,
    value: deal.value,
    currency: deal.currency,
    status: deal.status,
    active: deal.status === 'open',
    deleted: deal.isDeleted,
    is_archived: deal.isArchived,
    add_time: v1DateTime(deal.addTime),
    update_time: v1DateTime(deal.updateTime),
    stage_change_time: v1DateTime(deal.stageChangeTime),
    won_time: v1DateTime(deal.wonTime),
    lost_time: v1DateTime(deal.lostTime),
    close_time: v1DateTime(deal.closeTime),
    ...deal.customFields,
  };
}

export function personV1(person: Person) {
  return {
    id: person.id,
    name: person.name,
    owner_id: person.ownerId,
    org_id: person.orgId,
    email: person.emails.map((email) => ({ ...email })),
    phone: person.phones.map((phone) => ({ ...phone })),
    active_flag: !person.isDeleted,
    add_time: v1DateTime(person.addTime),
    update_time: v1DateTime(person.updateTime),
  };
}

export function userV1(user: User, company: Company) {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    company_id: company.id,
    company_name: company.name,
    company_domain: company.domain,
    company_country: 'US',
    is_admin: user.isAdmin,
    active_flag: true,
    activated: true,
    language: { language_code: user.languageCode, country_code: user.countryCode },
    locale: `${user.languageCode}_${user.countryCode}`,
    timezone_name: 'UTC',
    timezone_offset: '+00:00',
    default_currency: 'EUR',
  };
}

export function fileV1(file: StoredFile, deal: Deal | undefined, apiDomain: string) {
  return {
    id: file.id,
    user_id: file.userId,
    deal_id: file.dealId,
    person_id: deal?.personId ?? null,
    org_id: deal?.orgId ?? null,
    product_id: null,
    activity_id: null,
    add_time: v1DateTime(file.addTime),
    update_time: v1DateTime(file.addTime),
    file_name: file.fileName,
    file_type: file.fileName.includes('.') ? file.fileName.split('.').pop() : file.mimeType,
    file_size: file.fileSize,
    active_flag: true,
    inline_flag: false,
    remote_location: 's3',
    remote_id: null,
    deal_name: deal?.title ?? null,
    name: file.fileName,
    description: null,
    url: `${apiDomain}/api/v1/files/${file.id}/download`,
  };
}

export function noteV1(note: Note, deal: Deal | undefined, user: User | undefined) {
  return {
    id: note.id,
    user_id: note.userId,
    deal_id: note.dealId,
    person_id: null,
    org_id: null,
    lead_id: null,
    content: note.content,
    add_time: v1DateTime(note.addTime),
    update_time: v1DateTime(note.addTime),
    active_flag: true,
    pinned_to_deal_flag: note.pinnedToDealFlag,
    pinned_to_person_flag: false,
    pinned_to_organization_flag: false,
    deal: deal ? { title: deal.title } : null,
    user: user ? { name: user.name, email: user.email, is_you: false } : null,
  };
}

export function webhookV1(webhook: Webhook) {
  return {
    id: webhook.id,
    company_id: webhook.companyId,
    owner_id: webhook.ownerId,
    user_id: webhook.userId,
    event_action: webhook.eventAction,
    event_object: webhook.eventObject,
    subscription_url: webhook.subscriptionUrl,
    name: webhook.name,
    version: webhook.version,
    is_active: 1,
    add_time: v1DateTime(webhook.addTime),
    remove_time: null,
    type: 'application',
    http_auth_user: webhook.httpAuthUser,
    http_auth_password: webhook.httpAuthPassword,
    additional_data: {},
    remove_reason: null,
    last_delivery_time: v1DateTime(webhook.lastDeliveryTime),
    last_http_status: webhook.lastHttpStatus,
    admin_id: webhook.ownerId,
  };
}
