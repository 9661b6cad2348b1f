// A message's reactions as chips (press one to add or take back yours) and a small
// picker of common emojis. Whether a reaction is yours comes from `userIds`, since
// room-wide events carry no `mine`.
import { useState } from 'react';
import type { Message } from '@orderchat/client';
import { listNames, type Names } from '../lib/format';

const PICKER = ['👍', '❤️', '😂', '🎉', '👀', '🙏'];

interface ReactionEntry {
  emoji: string;
  count: number;
  userIds?: string[];
  users?: string[];
}

export function Reactions({ message, myId, names, onToggle }: {
  message: Message;
  myId: string;
  names: Names;
  onToggle: (emoji: string) => void;
}) {
  const [picking, setPicking] = useState(false);
  const reactions = (message.reactions ?? []) as ReactionEntry[];

  return (
    <div className="reactions">
      {reactions.map((r) => {
        const who = r.userIds ?? r.users ?? [];
        const mine = who.includes(myId);
        return (
          <button key={r.emoji} type="button" className={mine ? 'reaction mine' : 'reaction'} aria-pressed={mine}
            title={listNames(who.map(names))} aria-label={`${r.emoji} ${r.count}, ${mine ? 'remove your reaction' : 'react'}`}
            onClick={() => onToggle(r.emoji)}>
            <span aria-hidden="true">{r.emoji}</span> {r.count}
          </button>
        );
      })}
      <button type="button" className="reaction add" aria-expanded={picking} aria-label="Add a reaction"
        onClick={() => setPicking((v) => !v)}>
        <span aria-hidden="true">☺+</span>
      </button>
      {picking && (
        <span className="picker" role="group" aria-label="Pick a reaction">
          {PICKER.map((emoji) => (
            <button key={emoji} type="button" className="reaction" aria-label={`React with ${emoji}`}
              onClick={() => { setPicking(false); onToggle(emoji); }}>
              {emoji}
            </button>
          ))}
        </span>
      )}
    </div>
  );
}
