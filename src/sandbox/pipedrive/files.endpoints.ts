import multer from 'multer';
import { idParam } from './api-endpoint';
import type { ApiCaller, ApiEndpoint } from './api-endpoint';
import { fileV1 } from './api-shapes';
import type { DealRecords } from './deal-records';
import { sendData, sendPage } from './envelope';
import type { StoredFile } from './pipedrive.entities';
import { API_ERRORS } from './platform-facts';
import { PipedriveApiError } from './pipedrive-api.error';
import type { SimulatorStore } from './simulator-store';

/** Upload size cap of the simulator (Pipedrive's own limit is not in the reference). */
const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

/** v1 files: multipart upload to a deal, metadata, download of the stored bytes, and the deal's file list. */
export function fileEndpoints(store: SimulatorStore, deals: DealRecords): ApiEndpoint[] {
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: MAX_UPLOAD_BYTES }, defParamCharset: 'utf8' });
  const describe = (file: StoredFile, caller: ApiCaller) => fileV1(file, store.deals.get(file.dealId), caller.apiDomain);
  const requireFile = (companyId: number, fileId: number): StoredFile => {
    const file = store.files.get(fileId);
    if (!file || file.companyId !== companyId) throw PipedriveApiError.notFound(API_ERRORS.notFound('File'));
    return file;
  };

  return [
    {
      method: 'post',
      path: '/v1/files',
      scope: 'deals:full',
      cost: 'v1Write',
      parsers: [upload.single('file')],
      handle: (req, res, caller) => {
        if (!req.file) throw PipedriveApiError.badRequest('No file provided (multipart part "file")');
        const dealId = Number((req.body as Record<string, unknown> | undefined)?.deal_id);
        if (!Number.isInteger(dealId) || dealId <= 0) throw PipedriveApiError.badRequest('deal_id is required');
        deals.require(caller.company.id, dealId);
        const file: StoredFile = {
          id: store.nextId('file'),
          companyId: caller.company.id,
          dealId,
          userId: caller.user.id,
          fileName: req.file.originalname,
          mimeType: req.file.mimetype,
          fileSize: req.file.size,
          content: Buffer.from(req.file.buffer),
          addTime: new Date(),
        };
        store.files.set(file.id, file);
        sendData(res, describe(file, caller), {}, 201);
      },
    },
    {
      method: 'get',
      path: '/v1/files/:id',
      scope: 'deals:read',
      cost: 'v1Get',
      handle: (req, res, caller) => sendData(res, describe(requireFile(caller.company.id, idParam(req)), caller)),
    },
    {
      method: 'get',
      path: '/v1/files/:id/download',
      scope: 'deals:read',
      cost: 'v1Get',
      handle: (req, res, caller) => {
        const file = requireFile(caller.company.id, idParam(req));
        res.status(200).type(file.mimeType).set('content-disposition', `attachment; filename="${encodeURIComponent(file.fileName)}"`).send(file.content);
      },
    },
    {
      method: 'get',
      path: '/v1/deals/:id/files',
      scope: 'deals:read',
      cost: 'list',
      handle: (req, res, caller) => {
        const deal = deals.require(caller.company.id, idParam(req));
        sendPage(req, res, store.filesOf(caller.company.id, deal.id).map((file) => describe(file, caller)), 100);
      },
    },
  ];
}
