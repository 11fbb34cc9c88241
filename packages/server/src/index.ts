/**
 * @allot/server: allot's HTTP admin and resolve API. Confidence-shaped `/v1/segments`
 * (create, patch with an update mask, allocate, archive, list, available space), flags and
 * rules, exclusion groups, `POST /v1/flags:resolve`, and `GET /v1/state` for providers to
 * poll, over a workspace file.
 *
 * ```ts
 * const server = await AllotServer.start({ workspace: 'allot.yaml', port: 0,
 *   tokens: parseTokens(process.env.ALLOT_TOKENS ?? '', 'ALLOT_TOKENS') });
 * console.log(`listening on ${server.url}`);
 * process.once('SIGTERM', () => void server.close());
 * ```
 */
export { AllotServer, DEFAULT_PORT, isLoopback, ServerConfigError, type ServerOptions } from './server.js';
export { parseTokens, TokenAuthority, TokenConfigError, type Scope, type TokenEntry } from './auth/tokens.js';
export { ApiError, type ApiErrorCode } from './http/api-error.js';
export { targetingExpression } from './input/confidence-targeting.js';
export { WorkspaceStore, WorkspaceSnapshot, SERVER_LOCK_TIMEOUT_MS, type CompiledState, type WorkspaceStoreOptions } from './store/workspace-store.js';
export type { Store, StoreStatus, WriteResult } from './store/store.js';
export { auditEntry, type AuditChange, type AuditEntry, type AuditLog } from './store/audit-hook.js';
export { jsonLogger, type RequestRecord } from './observability/request-log.js';
export { ServerMetrics } from './observability/metrics.js';
export { canonicalJson } from './audit/canonical-json.js';
export { chainEntry, describeBreak, entryHash, GENESIS, verifyChain, type ChainBreak, type ChainVerdict, type ReadEntry } from './audit/chain.js';
export type { ChainedEntry, ImpactSummary, ShareSummary } from './audit/entry.js';
export { auditLogPath, FileAuditLog, parseEntryLine } from './audit/file-audit-log.js';
export { defaultTokenName, type Principal } from './auth/tokens.js';
export type { WriteLimits } from './auth/write-limits.js';
export { matchesFilter, type AuditFilter } from './audit/audit-query.js';
export type { AuditSource } from './audit/audit-routes.js';
export { SnapshotListeners, type SnapshotListener } from './store/snapshot-listeners.js';
