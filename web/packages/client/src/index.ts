// @orderchat/client: the framework-free part — the Socket.IO client with catch-up,
// outgoing queue and token refresh, the REST helpers, the wire types and the error type.
// React hooks are in `@orderchat/client/react`.

export { OrderChatClient } from './client.js';
export type { ClientOptions, ConnectionState } from './client.js';
export { RestClient } from './rest.js';
export type { HistoryPage, HistoryQuery, NotificationsPage, RestOptions } from './rest.js';
export { OrderChatError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { decodeToken } from './token.js';
export type { TokenClaims, TokenSource } from './token.js';
export { newClientId } from './ids.js';
export { SERVER_EVENTS } from './types.js';
export type * from './types.js';
export type { components as OpenApiComponents, paths as OpenApiPaths } from './generated/openapi.js';
