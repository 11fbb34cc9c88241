/**
 * The state loader's worker thread: reads (files), fetches (URLs), parses, compiles
 * workspaces, validates and prepares states, and hands back the prepared form with its
 * bitsets transferred, so that the application's thread only assembles
 * (loading/state-loader.ts).
 */
import { createHash } from 'node:crypto';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';

import type { DecodedBitset } from '@allot/core';

import { decidedByContent, SourceError } from '../sources/source-error.js';
import { entriesData } from './state-entries.js';
import { bodyBytes, requestLabel, requestState, stateResponse, withTimeout, type StateRequest, type StateResponse } from './state-fetch.js';
import {
  contentDigest,
  prepareJson,
  readStateFile,
  stateJsonOf,
  textOfBytes,
  type CancelRequest,
  type LoadReply,
  type LoadRequest,
} from './state-text.js';

/**
 * The bitsets of this worker's last good load, by a digest of their base64 text (core's
 * `decodedBitsets`): a reload inflates and packs only the bitsets that changed. At 10,000
 * segments core's `prepareState` then takes 0.33–0.44 s where it took 1.8–2.3, and the
 * inflated bitmaps' garbage (1.25 GB of buffers, collected by V8's threads at the
 * application's priority) is not made. Keyed by digest so that the 43 MB of texts are not
 * kept; the bitsets (33 MB at 10,000 segments) are held while the worker lives
 * (`WORKER_IDLE_MS` past its last load, state-loader.ts).
 */
const reuse = {
  decodedBitsets: new Map<string, DecodedBitset>(),
  decodedBitsetKey: (text: string): string => createHash('sha256').update(text).digest('base64'),
};

/** The `url` requests in flight, to abort when their caller cancels them. */
const fetching = new Map<number, AbortController>();

async function answer(
  request: LoadRequest,
): Promise<{ reply: LoadReply; transfer: readonly ArrayBuffer[] }> {
  const { id, origin, options } = request;
  let digest: string | null = null;
  let response: StateResponse | undefined;
  try {
    let text: string;
    if (request.kind === 'url') {
      const body = await fetchBody(id, request.request);
      if (body === null) return { reply: { id, kind: 'not-modified' }, transfer: [] };
      response = body.response;
      text = textOfBytes([body.bytes], false);
    } else if (request.kind === 'file') {
      const bytes = await readStateFile(request.path, origin);
      digest = contentDigest(bytes);
      if (digest === request.unlessDigest)
        return { reply: { id, kind: 'unchanged', digest }, transfer: [] };
      text = bytes.toString('utf8');
    } else if (request.kind === 'bytes') {
      text = textOfBytes(request.blocks, request.sse);
    } else {
      text = request.text;
    }
    const json = await stateJsonOf(text, origin, options);
    const { transfer, ...load } = prepareJson(json, origin, options, reuse, request.held);
    // The state's JSON, entry by entry, for a source that applies deltas to it (state-entries.ts).
    const entries = request.kind !== 'file' && request.entries === true ? entriesData(json, request.heldEntries) : null;
    return {
      reply: {
        id,
        kind: 'prepared',
        load: entries === null ? load : { ...load, entries: entries.data },
        digest,
        ...(response === undefined ? {} : { response }),
      },
      transfer: entries === null ? transfer : [...transfer, ...entries.transfer],
    };
  } catch (error) {
    const e =
      error instanceof SourceError
        ? error
        : new SourceError(
            'LOADER_FAILED',
            `${origin}: loading failed: ${(error as Error).message}`,
          );
    return {
      reply: { id, kind: 'failed', error: { code: e.code, message: e.message, issues: e.issues }, digest: decidedByContent(e) ? digest : null },
      transfer: [],
    };
  }
}

/** A `url` request's body and what its headers said, or null for a 304. */
async function fetchBody(id: number, request: StateRequest): Promise<{ bytes: Uint8Array; response: StateResponse } | null> {
  const cancel = new AbortController();
  fetching.set(id, cancel);
  const { signal, clear } = withTimeout(request, cancel.signal);
  try {
    const response = await requestState(request, signal);
    if (response === null) return null;
    return { bytes: await bodyBytes(response, requestLabel(request.url)), response: stateResponse(response) };
  } finally {
    clear();
    fetching.delete(id);
  }
}

/** Loading is background work: on Linux, where a nice value belongs to one thread, this one yields the CPU to the application's thread. */
function lowerPriority(): void {
  if (process.platform !== 'linux') return; // elsewhere it would lower the whole process
  try {
    setPriority(10);
  } catch {
    // Not permitted here: load at the usual priority.
  }
}

const port = parentPort;
if (port !== null) {
  lowerPriority();
  port.on('message', (request: LoadRequest | CancelRequest) => {
    if (request.kind === 'cancel') {
      fetching.get(request.id)?.abort(new Error('cancelled: the source stopped'));
      return;
    }
    void answer(request).then(({ reply, transfer }) => {
      port.postMessage(reply, [...transfer]);
    });
  });
  port.postMessage({ id: 0, kind: 'ready' } satisfies LoadReply);
}
