import { DottedSignError } from './dottedsign-error';
import type { MetadataValue, TaskInput } from './dottedsign-store';

/** DottedSign's documented pattern: none of `"*:<>?/\|~#%&{}` and no leading dot. */
const FILE_NAME = /^(?!.*["*:<>?/\\|~#%&{}])[^.].*$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const METADATA_LIMITS = { pairs: 10, keyLength: 40, valueLength: 100 };

type Json = Record<string, unknown>;

/**
 * Validates a quick create / create body into a TaskInput, or throws invalid_params. A stage is
 * `{email, name}` (quick create) or `{signers: [{email, name}]}`; create also needs `field_settings`.
 */
export function validateTaskInput(body: Json, options: { withFieldSettings: boolean }): TaskInput {
  const fileName = body.file_name;
  if (typeof fileName !== 'string' || !fileName || fileName.length > 255 || !FILE_NAME.test(fileName)) {
    throw DottedSignError.invalidParams('file_name is invalid: at most 255 characters, none of "*:<>?/\\|~#%&{}, no leading dot');
  }
  const templateId = Number(body.template_id);
  if (!Number.isInteger(templateId) || templateId <= 0) throw DottedSignError.invalidParams('template_id is required');
  if (body.start !== undefined && typeof body.start !== 'boolean') throw DottedSignError.invalidParams('start must be a boolean');
  if (body.ordered !== undefined && typeof body.ordered !== 'boolean') throw DottedSignError.invalidParams('ordered must be a boolean');
  return {
    fileName,
    templateId,
    signers: validateStages(body.stages, options.withFieldSettings),
    ordered: body.ordered === true,
    start: body.start === true,
    metadata: validateMetadata(body.metadata),
  };
}

function validateStages(stages: unknown, withFieldSettings: boolean): TaskInput['signers'] {
  if (!Array.isArray(stages) || !stages.length) throw DottedSignError.invalidParams('stages must not be empty');
  return stages.map((stage: unknown) => {
    if (!stage || typeof stage !== 'object') throw DottedSignError.invalidParams('each stage must be an object');
    const fields = stage as Json;
    const person = (Array.isArray(fields.signers) ? fields.signers[0] : fields) as Json | undefined;
    const { email, name } = person ?? {};
    if (typeof email !== 'string' || !EMAIL.test(email) || typeof name !== 'string' || !name.trim()) {
      throw DottedSignError.invalidParams('each stage needs a name and a valid email');
    }
    if (withFieldSettings && !Array.isArray(fields.field_settings)) throw DottedSignError.invalidParams('stages[].field_settings is required');
    return { name: name.trim(), email };
  });
}

/** Values keep their JSON type (the reference's webhook example carries `"pipedrive_deal_id": 999`, a number). */
function validateMetadata(metadata: unknown): Record<string, MetadataValue> {
  if (metadata === undefined || metadata === null) return {};
  if (typeof metadata !== 'object' || Array.isArray(metadata)) throw DottedSignError.invalidParams('metadata must be an object');
  const entries = Object.entries(metadata);
  if (entries.length > METADATA_LIMITS.pairs) throw DottedSignError.invalidParams(`metadata allows at most ${METADATA_LIMITS.pairs} pairs`);
  return Object.fromEntries(
    entries.map(([key, value]) => {
      if (!['string', 'number', 'boolean'].includes(typeof value)) throw DottedSignError.invalidParams(`metadata.${key} must be a string`);
      const text = String(value);
      if (!key || key.length > METADATA_LIMITS.keyLength || text.length > METADATA_LIMITS.valueLength) {
        throw DottedSignError.invalidParams(`metadata keys are 1-${METADATA_LIMITS.keyLength} characters, values at most ${METADATA_LIMITS.valueLength}`);
      }
      return [key, value as MetadataValue];
    }),
  );
}
