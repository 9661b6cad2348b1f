// A tiny typed event emitter: `on` returns the unsubscribe function, a throwing
// handler does not stop the others (the error is reported on the console).

export class Emitter<Events extends object> {
  private readonly handlers = new Map<keyof Events, Set<(payload: never) => void>>();

  on<E extends keyof Events>(event: E, handler: (payload: Events[E]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler as (payload: never) => void);
    return () => {
      set.delete(handler as (payload: never) => void);
    };
  }

  emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    for (const handler of [...(this.handlers.get(event) ?? [])]) {
      try {
        (handler as (payload: Events[E]) => void)(payload);
      } catch (err) {
        console.error(`orderchat: a "${String(event)}" handler threw`, err);
      }
    }
  }

  clear(): void {
    this.handlers.clear();
  }
}
