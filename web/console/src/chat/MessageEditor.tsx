// Editing your own message in place: a labelled textarea with the current text; Enter
// or "Save" stores it (the message then shows "edited"), Escape or "Cancel" leaves it.
import { useId, useState, type KeyboardEvent } from 'react';

interface Props {
  text: string;
  onSave: (text: string) => Promise<unknown>;
  onDone: () => void;
}

export function MessageEditor({ text, onSave, onDone }: Props) {
  const [value, setValue] = useState(text);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const fieldId = useId();

  const save = async () => {
    const next = value.trim();
    if (!next || next === text) return onDone();
    setSaving(true);
    try {
      await onSave(value);
      onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setSaving(false);
    }
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Escape') onDone();
    else if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void save();
    }
  };

  return (
    <div className="editor">
      <label htmlFor={fieldId} className="visually-hidden">Edit message</label>
      <textarea id={fieldId} value={value} rows={2} autoFocus onChange={(e) => setValue(e.target.value)} onKeyDown={onKeyDown} />
      {error && <p className="form-error" role="alert">{error}</p>}
      <div className="editor-buttons">
        <button type="button" className="button small primary" onClick={() => void save()} disabled={saving}>Save</button>
        <button type="button" className="button small" onClick={onDone}>Cancel</button>
      </div>
    </div>
  );
}
