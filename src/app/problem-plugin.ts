// Maps every failure to RFC 9457 problem+json with a stable code; never leaks a stack or SQL text.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, PROBLEM_CONTENT_TYPE, toProblem, type FieldError } from './errors.ts';

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Turns Fastify/Ajv validation output into our field errors (`body.amount: must be integer`). */
export function fieldErrorsFrom(err: FastifyError & { validation?: AjvError[]; validationContext?: string }): FieldError[] {
  const ctx = err.validationContext ?? 'body';
  return (err.validation ?? []).map((v) => {
    let pointer = v.instancePath ?? '';
    if (v.keyword === 'required' && typeof v.params?.missingProperty === 'string') {
      pointer = `${pointer}/${v.params.missingProperty}`;
    }
    if (v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string') {
      pointer = `${pointer}/${v.params.additionalProperty}`;
    }
    const field = `${ctx}${pointer.replaceAll('/', '.')}`;
    return { field, message: v.message ?? 'is invalid' };
  });
}

function classify(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fe = err as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (fe?.validation) return AppError.validation(fieldErrorsFrom(fe));
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return AppError.validation([{ field: 'body', message: 'is not valid JSON' }], 'body: is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'the request body is larger than this endpoint accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('unsupported_media_type', 'send the body as application/json');
    case 'FST_ERR_NOT_FOUND':
      return new AppError('not_found');
  }
  // SyntaxError from a content-type parser (bad JSON / XML) carries statusCode 400.
  if (fe?.statusCode === 400) return AppError.validation([{ field: 'body', message: 'is malformed' }], 'body: is malformed');
  if (fe?.statusCode === 413) return new AppError('payload_too_large');
  if (fe?.statusCode === 415) return new AppError('unsupported_media_type');
  return new AppError('internal', 'something went wrong on our side; the request id identifies it');
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, err: AppError): FastifyReply {
  const problem = toProblem(err, request.url.split('?')[0]);
  if (typeof err.extra.retryAfter === 'number') reply.header('retry-after', String(Math.ceil(err.extra.retryAfter)));
  return reply.status(err.status).type(PROBLEM_CONTENT_TYPE).send({ ...problem, requestId: request.id });
}

export function registerProblemHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const appErr = classify(err);
    if (appErr.status >= 500) {
      request.log.error({ err }, 'request failed');
    } else {
      request.log.info({ code: appErr.code, status: appErr.status }, 'request refused');
    }
    return sendProblem(reply, request, appErr);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, request, new AppError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)));
}
