// Types of server.mjs, for the TypeScript tests.
export declare const BIN: string;
export declare const SECRET: string;
export interface RunningServer {
  readonly url: string;
  readonly dataDir: string;
  logs(): string;
  assertNoPanic(): void;
  stop(): Promise<void>;
  restart(): Promise<void>;
}
export declare function startServer(env?: Record<string, string>): Promise<RunningServer>;
