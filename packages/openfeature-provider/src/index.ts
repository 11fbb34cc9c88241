/**
 * @allot/openfeature-provider: allot's flags evaluated locally behind OpenFeature.
 *
 * ```ts
 * import { OpenFeature } from '@openfeature/server-sdk';
 * import { AllotProvider, fileSource } from '@allot/openfeature-provider';
 *
 * await OpenFeature.setProviderAndWait(new AllotProvider({ source: fileSource('./state.json') }));
 * const client = OpenFeature.getClient();
 * const enabled = await client.getBooleanValue('new-checkout.enabled', false, { targetingKey: 'user-1' });
 * ```
 */
export { AllotProvider } from './provider.js';
export { FlagBundle } from './bundle/flag-bundle.js';
export { AllotEventEmitter } from './events/allot-events.js';
export { ClientError } from './evaluation/evaluation.js';
export { fileSource, type FileSourceOptions } from './sources/file-source.js';
export { httpSource, type HttpSourceOptions } from './sources/http-source.js';
export { watchSource, type AppliedState, type WatchSourceOptions } from './sources/watch-source.js';
export { objectSource, type ObjectSource } from './sources/object-source.js';
export { compileState, parseState, type ParseOptions } from './sources/parse-state.js';
export { SourceError, type SourceErrorCode } from './sources/source-error.js';
export { changedFlags } from './sources/changed-flags.js';
export { applyDelta, parseDelta, type StateDelta } from './sources/state-delta.js';
export { compileDelta } from './loading/state-text.js';
export { MemoryStore, NINETY_DAYS_MS, type MemoryStoreOptions } from './sticky/memory-store.js';
export type {
  AllotEvents,
  AllotProviderOptions,
  Exposure,
  ExposureOptions,
  FlagValueType,
  LoadedState,
  SourceListener,
  StateFingerprints,
  StateSource,
  StickyOptions,
  StickyStore,
  StickyStoreStatus,
  TrackEvent,
} from './types.js';
export type { MaterializationStore, MaterializationStoreWrite } from '@allot/core';
