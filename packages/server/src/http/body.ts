/**
 * Request bodies: read up to a size limit (413 beyond it, decided from Content-Length before
 * reading when the client sends one), only as JSON (415 otherwise), decoded as strict UTF-8,
 * and checked for keys that could reach an object's prototype (`__proto__`) and for absurd
 * nesting, so handlers only ever see plain data.
 */
import type { IncomingMessage } from 'node:http';

import { ApiError, invalid } from './api-error.js';

/** Deepest nesting accepted in a body: far beyond any real resource, well short of a stack overflow. */
export const MAX_DEPTH = 64;

/** Reads the body as bytes; rejects with a 413 ApiError past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Stop reading; the 413 goes out with `connection: close`.
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'PAYLOAD_TOO_LARGE', `the request body is larger than the limit of ${limit} bytes`, {
    field: 'body',
    headers: { connection: 'close' },
  });
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The body as JSON; an empty body is `{}` (so `POST /v1/segments/x:allocate` needs none).
 * Anything but `application/json` is refused when there is a body.
 */
export function parseJsonBody(req: IncomingMessage, bytes: Buffer): unknown {
  if (bytes.length === 0) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `send the body as JSON with "Content-Type: application/json" (got ${type === '' ? 'no content type' : JSON.stringify(type)})`, {
      field: 'content-type',
    });
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw invalid('body', 'not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid('body', `not valid JSON: ${(error as Error).message}`);
  }
  checkPlainData(value);
  return value;
}

/**
 * Refuses `__proto__` keys anywhere (JSON.parse keeps them as own properties, but any later
 * spread or assignment would turn them into prototype changes) and nesting deeper than
 * MAX_DEPTH. Iterative, so a hostile body cannot overflow the stack here.
 */
export function checkPlainData(value: unknown): void {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_DEPTH) throw invalid(path || 'body', `nested deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(v)) {
      v.forEach((item: unknown, i) => stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    for (const [key, item] of Object.entries(v)) {
      const at = path === '' ? key : `${path}.${key}`;
      if (key === '__proto__') throw invalid(at, 'the key "__proto__" is not accepted');
      stack.push({ value: item, path: at, depth: depth + 1 });
    }
  }
}
