// Small display helpers shared by the views: times, sizes, previews and people's names.
import type { Message, Participant } from '@orderchat/client';

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** "14:05" for today, "27 Nov 2026, 14:05" otherwise. */
export function formatTime(iso: string | null | undefined, now = new Date()): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toDateString() === now.toDateString() ? timeFormat.format(date) : dateTimeFormat.format(date);
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** One line of a message for lists: its text, or what it holds when it has none. */
export function previewOf(message: Pick<Message, 'message' | 'deleted' | 'attachments'> | null | undefined): string {
  if (!message) return 'No messages yet';
  if (message.deleted) return 'Message deleted';
  const text = (message.message ?? '').replace(/\s+/g, ' ').trim();
  if (text) return text;
  const files = message.attachments ?? [];
  return files.length === 1 ? `Attachment: ${files[0]?.fileName}` : files.length > 1 ? `${files.length} attachments` : '';
}

/** userId → display name, from the participants and from the authors of the messages shown. */
export type Names = (userId: string) => string;

export function namesFrom(participants: readonly Participant[], messages: readonly Message[]): Names {
  const known = new Map<string, string>();
  for (const m of messages) if (m.user?.name) known.set(m.user.id, m.user.name);
  for (const p of participants) if (p.name) known.set(p.userId, p.name);
  return (userId) => known.get(userId) ?? userId;
}

/** "Ana", "Ana and Dan", "Ana, Dan and Eve". */
export function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
