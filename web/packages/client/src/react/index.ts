// @orderchat/client/react: React hooks on top of OrderChatClient. `react` (>= 18) is an
// optional peer dependency: only this entry point imports it.

export { useChat } from './useChat.js';
export type { ChatMessage, SendOptions, UseChatResult } from './useChat.js';
export { useOrderChats } from './useOrderChats.js';
export type { OrderChatsOptions, UseOrderChatsResult } from './useOrderChats.js';
export { useNotifications } from './useNotifications.js';
export type { UseNotificationsResult } from './useNotifications.js';
export { useSharedClient, useConnectionState, acquireClient, releaseClient } from './shared-client.js';
export type { HookOptions } from './shared-client.js';
