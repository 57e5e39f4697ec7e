import { createContext, useContext } from "react";
import type { Client } from "./api/client";
import type { Session } from "./auth/session";
import type { Config } from "./config";

export interface AppState {
  config: Config;
  session: Session;
  client: Client;
  signOut: () => void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const s = useContext(AppContext);
  if (!s) throw new Error("useApp outside the signed-in app");
  return s;
}
