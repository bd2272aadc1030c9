import { HttpStatus, type RawBodyRequest } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import { ApiError } from './api-error';
import { parseStorableJson, storableStrings } from './storable-text';

const JSON_TYPES = /^application\/(?:[^;]+\+)?json(?:;|$)/;
const FORM_TYPE = 'application/x-www-form-urlencoded';

/**
 * JSON (`application/json`, `application/*+json`) and urlencoded bodies up to `bodyLimit` bytes, with the raw
 * bytes kept on `request.rawBody` for webhook signature checks. Any other content type is left unread with an
 * undefined body, as under Express (Fastify would answer 415).
 */
export function registerBodyParsers(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(JSON_TYPES, bodyParser(bodyLimit, parseJson));
  fastify.addContentTypeParser(FORM_TYPE, bodyParser(bodyLimit, (text) => storableStrings({ ...parseQueryString(text) })));
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
}

function bodyParser(limit: number, parse: (text: string) => unknown) {
  return async (request: FastifyRequest, payload: IncomingMessage): Promise<unknown> => {
    const raw = await readBody(payload, limit);
    const encoding = request.headers['content-encoding'];
    if (encoding && encoding !== 'identity') {
      throw new ApiError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'unsupported_media_type', 'Unsupported body encoding');
    }
    (request as RawBodyRequest<FastifyRequest>).rawBody = raw;
    return parse(raw.toString('utf8'));
  };
}

/**
 * The body, or a 413 once it has been read to its end (as body-parser did): answering while the client is still
 * sending makes Fastify close the connection under it, and the client sees a reset instead of the 413.
 */
function readBody(payload: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    payload.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length <= limit) chunks.push(chunk);
    });
    payload.on('end', () =>
      length > limit ? reject(new ApiError(HttpStatus.PAYLOAD_TOO_LARGE, 'payload_too_large', 'The request body is too large')) : resolve(Buffer.concat(chunks, length)),
    );
    payload.on('error', () => reject(ApiError.badRequest('The request body ended early')));
  });
}

/** As body-parser's strict mode did: an empty body is `{}`, and only an object or an array is accepted. */
function parseJson(text: string): unknown {
  const first = /^[\x20\x09\x0a\x0d]*(.)/.exec(text)?.[1];
  if (first === undefined) return {};
  if (first === '{' || first === '[') {
    try {
      return parseStorableJson(text);
    } catch {
      // answered below
    }
  }
  throw ApiError.badRequest('The request body is not valid JSON');
}
