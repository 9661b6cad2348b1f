// The one OrderChatClient of a signed-in console: every hook and every REST call of the
// page goes through it (one Socket.IO connection per tab), and it is closed on sign-out.
import { useEffect, useState } from 'react';
import { OrderChatClient, type ConnectionState } from '@orderchat/client';

export function useConsoleClient(token: string): { client: OrderChatClient; state: ConnectionState } {
  const [client] = useState(() => new OrderChatClient({ token }));
  const [state, setState] = useState<ConnectionState>(client.state);
  useEffect(() => {
    const off = client.onState(setState);
    client.connect();
    setState(client.state);
    return () => {
      off();
      client.close();
    };
  }, [client]);
  return { client, state };
}
