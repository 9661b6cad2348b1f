// The small actions in a message's head: react, reply, and for your own messages edit
// and delete (delete asks once more, inline, since a tombstone cannot be undone).
import { useState } from 'react';
import { SmileIcon } from '../lib/icons';

interface Props {
  mine: boolean;
  /** A closed order's chat: only deleting (moderation) is left. */
  readOnly: boolean;
  /** How the message is named in the buttons' labels ("your message", "Dina"). */
  whose: string;
  picking: boolean;
  onTogglePicker: () => void;
  onReply: () => void;
  onEdit: () => void;
  onDelete: () => void;
}

export function MessageActions({ mine, readOnly, whose, picking, onTogglePicker, onReply, onEdit, onDelete }: Props) {
  const [confirming, setConfirming] = useState(false);
  if (confirming) {
    return (
      <span className="message-actions" role="group" aria-label="Delete this message?">
        <span className="confirm-text">Delete?</span>
        <button type="button" className="link-button danger" onClick={() => { setConfirming(false); onDelete(); }}>Yes, delete</button>
        <button type="button" className="link-button" onClick={() => setConfirming(false)}>Keep</button>
      </span>
    );
  }
  if (readOnly) {
    return mine ? (
      <span className="message-actions">
        <button type="button" className="link-button" onClick={() => setConfirming(true)} aria-label="Delete your message">Delete</button>
      </span>
    ) : null;
  }
  return (
    <span className="message-actions">
      <button type="button" className="icon-button" aria-expanded={picking} aria-label={`React to ${whose}`} onClick={onTogglePicker}>
        <SmileIcon />
      </button>
      <button type="button" className="link-button" onClick={onReply} aria-label={`Reply to ${whose}`}>Reply</button>
      {mine && <button type="button" className="link-button" onClick={onEdit} aria-label="Edit your message">Edit</button>}
      {mine && <button type="button" className="link-button" onClick={() => setConfirming(true)} aria-label="Delete your message">Delete</button>}
    </span>
  );
}
