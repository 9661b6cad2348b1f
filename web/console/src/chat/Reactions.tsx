// A message's reactions: the chips (press one to add or take back yours) and the small
// picker of common emojis. Whether a reaction is yours comes from `userIds`, since
// room-wide events carry no `mine`.
import type { Message } from '@orderchat/client';
import { listNames, type Names } from '../lib/format';

export const PICKER = ['👍', '❤️', '😂', '🎉', '👀', '🙏'];

export function ReactionChips({ message, myId, names, disabled = false, onToggle }: {
  message: Message;
  myId: string;
  names: Names;
  /** Shown but not pressable (a closed order's chat). */
  disabled?: boolean;
  onToggle: (emoji: string) => void;
}) {
  if (message.reactions.length === 0) return null;
  return (
    <div className="reactions">
      {message.reactions.map((r) => {
        const mine = r.userIds.includes(myId);
        return (
          <button key={r.emoji} type="button" className={mine ? 'reaction mine' : 'reaction'} aria-pressed={mine}
            title={listNames(r.userIds.map(names))}
            aria-label={`${r.emoji} ${r.count}: ${listNames(r.userIds.map(names))}`}
            disabled={disabled} onClick={() => onToggle(r.emoji)}>
            <span aria-hidden="true">{r.emoji}</span> {r.count}
          </button>
        );
      })}
    </div>
  );
}

export function ReactionPicker({ onPick }: { onPick: (emoji: string) => void }) {
  return (
    <div className="picker" role="group" aria-label="Pick a reaction">
      {PICKER.map((emoji) => (
        <button key={emoji} type="button" className="reaction" aria-label={`React with ${emoji}`} onClick={() => onPick(emoji)}>
          {emoji}
        </button>
      ))}
    </div>
  );
}
