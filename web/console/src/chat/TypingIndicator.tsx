// "Dina is typing…" under the messages; a polite live region so screen readers hear it.
import { listNames, type Names } from '../lib/format';

export function TypingIndicator({ userIds, names }: { userIds: string[]; names: Names }) {
  const who = listNames(userIds.map(names));
  return (
    <div className="typing" aria-live="polite" data-testid="typing">
      {userIds.length > 0 && (
        <>
          <span className="typing-dots" aria-hidden="true"><span /><span /><span /></span>
          {who} {userIds.length === 1 ? 'is' : 'are'} typing…
        </>
      )}
    </div>
  );
}
