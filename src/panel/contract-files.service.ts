import { Inject, Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { SignedTokens } from '../common/signed-tokens';
import { DottedSignConnections, NotConnectedError } from '../dottedsign/dottedsign-connections.service';
import type { Contract } from '../signing/contract.entity';
import { E_SIGN_PROVIDER } from '../signing/contract-sender.service';
import { ContractsRepository } from '../signing/contracts.repository';
import { type ESignProvider, ProviderError, type TaskFileKind } from '../signing/esign-provider.port';

const DOWNLOAD_PURPOSE = 'contract-file';
/**
 * Long enough to click a link soon after the answer that carried it. The panel puts the fresh links of every poll
 * into the cards on screen (client/src/panel/contract-card.ts refreshDownloadLinks); an expired link answers a
 * 401 HTML page saying to open the file again from the panel.
 */
const DOWNLOAD_TTL_SECONDS = 10 * 60;
const KINDS: readonly TaskFileKind[] = ['completed', 'audit_trail'];
const FILE_SUFFIX: Record<TaskFileKind, string> = { completed: 'signed', audit_trail: 'audit-trail' };

export interface ContractFile {
  fileName: string;
  content: Buffer;
}

/**
 * The signed PDF and the audit trail of a completed contract, fetched from the e-sign provider for the
 * contract's own company only. Links opened in a new tab carry a short-lived signed token instead of a Bearer header.
 */
@Injectable()
export class ContractFiles {
  constructor(
    private readonly contracts: ContractsRepository,
    private readonly connections: DottedSignConnections,
    private readonly signed: SignedTokens,
    @Inject(E_SIGN_PROVIDER) private readonly provider: ESignProvider,
  ) {}

  /** Download links for the panel; none until the contract is completed. */
  links(contract: Contract): Array<{ kind: TaskFileKind; url: string }> {
    if (contract.status !== 'completed' || !contract.taskId) return [];
    return KINDS.map((kind) => ({
      kind,
      url: `/downloads/contract-file?token=${this.signed.sign(DOWNLOAD_PURPOSE, { companyId: contract.companyId, contractId: contract.id, kind }, DOWNLOAD_TTL_SECONDS)}`,
    }));
  }

  /** The file a download link stands for; null for a forged, altered or expired link. */
  fromLink(token: string | undefined): { companyId: string; contractId: string; kind: string } | null {
    return this.signed.verify(DOWNLOAD_PURPOSE, token);
  }

  /** Another company's contract answers 404, exactly like a missing one. */
  async fetch(companyId: string, contractId: string, kind: string): Promise<ContractFile> {
    const contract = /^\d{1,18}$/.test(contractId) ? await this.contracts.byId(contractId) : null;
    if (!contract || contract.companyId !== companyId) throw ApiError.notFound('No such contract');
    return this.download(contract, kind);
  }

  /** The file of a contract the caller already read and may see. */
  async download(contract: Contract, kind: string): Promise<ContractFile> {
    if (!KINDS.includes(kind as TaskFileKind)) throw ApiError.notFound('No such file: kind is "completed" or "audit_trail"');
    if (contract.status !== 'completed' || !contract.taskId) throw ApiError.notFound('The files exist once every signer has signed');
    try {
      const content = await this.provider.download(await this.connections.session(contract.companyId), contract.taskId, kind as TaskFileKind);
      return { fileName: `contract-${contract.id}-${FILE_SUFFIX[kind as TaskFileKind]}.pdf`, content };
    } catch (error) {
      if (error instanceof NotConnectedError) throw new ApiError(409, 'dottedsign_not_connected', 'Connect DottedSign in the app settings to download the files');
      if (error instanceof ProviderError) throw new ApiError(502, 'dottedsign_unavailable', `DottedSign did not return the file: ${error.message}`);
      throw error;
    }
  }
}
