import type { Task, Template } from './dottedsign-store';

/** Our reading of DottedSign's task JSON (the read shape is unverified in the reference). */
export function taskJson(task: Task) {
  return {
    task_id: task.id,
    status: task.status,
    file_name: task.fileName,
    template_id: task.templateId,
    metadata: task.metadata,
    ordered: task.ordered,
    created_at: task.createdAt,
    updated_at: task.updatedAt,
    completed_at: task.completedAt,
    void_reason: task.voidReason,
    stages: task.stages.map((stage) => ({
      order: stage.order,
      signers: stage.signers.map((signer) => ({
        name: signer.name,
        email: signer.email,
        status: signer.status,
        signed_at: signer.signedAt,
        decline_reason: signer.declineReason,
      })),
    })),
  };
}

export function templateJson(template: Template) {
  return { id: template.id, name: template.name, roles: template.roles.map((role, index) => ({ order: index + 1, name: role })) };
}
