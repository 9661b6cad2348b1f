// The one OrderChatClient of a signed-in console: every hook and every REST call of the
// page goes through it (one Socket.IO connection per tab), and it is closed on sign-out.
// A closed client cannot reconnect, so each mount makes its own (React's StrictMode
// mounts twice in development); the page renders once the client exists.
import { useEffect, useState } from 'react';
import { OrderChatClient, type ConnectionState } from '@orderchat/client';

export function useConsoleClient(token: string): { client: OrderChatClient | null; state: ConnectionState } {
  const [client, setClient] = useState<OrderChatClient | null>(null);
  const [state, setState] = useState<ConnectionState>('connecting');
  useEffect(() => {
    const made = new OrderChatClient({ token });
    const off = made.onState(setState);
    made.connect();
    setClient(made);
    setState(made.state);
    return () => {
      off();
      made.close();
    };
  }, [token]);
  return { client, state };
}
