import { HttpStatus, type RawBodyRequest } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parse as parseQueryString } from 'node:querystring';
import { ApiError } from './api-error';

const JSON_TYPES = /^application\/(?:[^;]+\+)?json(?:;|$)/;
const FORM_TYPE = 'application/x-www-form-urlencoded';

/**
 * JSON (`application/json`, `application/*+json`) and urlencoded bodies up to `bodyLimit` bytes, with the raw
 * bytes kept on `request.rawBody` for webhook signature checks. Any other content type is left unread with an
 * undefined body, as under Express (Fastify would answer 415).
 */
export function registerBodyParsers(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeAllContentTypeParsers();
  const options = { parseAs: 'buffer' as const, bodyLimit };
  fastify.addContentTypeParser(JSON_TYPES, options, parsing(parseJson));
  fastify.addContentTypeParser(FORM_TYPE, options, parsing((text) => ({ ...parseQueryString(text) })));
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
}

function parsing(parse: (text: string) => unknown) {
  return (request: FastifyRequest, raw: string | Buffer, done: (error: Error | null, body?: unknown) => void): void => {
    let body: unknown;
    try {
      if (request.headers['content-encoding'] && request.headers['content-encoding'] !== 'identity') {
        throw new ApiError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'unsupported_media_type', 'Unsupported body encoding');
      }
      (request as RawBodyRequest<FastifyRequest>).rawBody = raw as Buffer;
      body = parse(raw.toString('utf8'));
    } catch (error) {
      return done(error as Error);
    }
    done(null, body);
  };
}

/** As body-parser's strict mode did: an empty body is `{}`, and only an object or an array is accepted. */
function parseJson(text: string): unknown {
  const first = /^[\x20\x09\x0a\x0d]*(.)/.exec(text)?.[1];
  if (first === undefined) return {};
  if (first === '{' || first === '[') {
    try {
      return JSON.parse(text);
    } catch {
      // answered below
    }
  }
  throw ApiError.badRequest('The request body is not valid JSON');
}
