import { useState } from "react";
import { devSignIn } from "../auth/dev";
import { authorizeURL } from "../auth/entra";
import type { Session } from "../auth/session";
import type { Config } from "../config";
import { ErrorPanel } from "../components/common";
import { asApiError, useAction } from "../hooks";

const roleChoices = [
  { id: "TREAdmin", label: "TRE admin (TREAdmin)", help: "creates workspaces and shared services, manages templates, users and the firewall" },
  { id: "TREUser", label: "TRE user (TREUser)", help: "sees the workspaces where an admin gave them a role" },
];

// SignIn offers the sign-in the handler is configured for: Entra ID, or
// with the local dev issuer a user name and TRE roles of one's choosing.
export function SignIn({ config, onSignedIn, notice }: { config: Config; onSignedIn: (s: Session) => void; notice?: string }) {
  return (
    <main className="sign-in" id="main">
      <h1>Azure TRE</h1>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {config.authMode === "entra" ? <EntraSignIn config={config} /> : <DevSignIn onSignedIn={onSignedIn} />}
    </main>
  );
}

function EntraSignIn({ config }: { config: Config }) {
  const action = useAction();
  const go = () =>
    action.run(async () => {
      window.location.assign(await authorizeURL(config, window.location.hash));
    });
  return (
    <section aria-labelledby="entra-title">
      <h2 id="entra-title">Sign in</h2>
      <p>Sign in with your organisation's Microsoft Entra ID account.</p>
      <button type="button" className="primary" onClick={go} disabled={action.busy}>
        Sign in with Microsoft
      </button>
      <ErrorPanel error={action.error} title="The sign-in could not start" />
    </section>
  );
}

function DevSignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [user, setUser] = useState("alice");
  const [roles, setRoles] = useState<string[]>(["TREAdmin"]);
  const action = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const s = await action.run(() => devSignIn(user.trim(), roles).catch((err: unknown) => Promise.reject(asApiError(err))));
    if (s) onSignedIn(s);
  };
  const toggle = (id: string) => setRoles((r) => (r.includes(id) ? r.filter((x) => x !== id) : [...r, id]));
  return (
    <section aria-labelledby="dev-title">
      <h2 id="dev-title">Dev sign-in</h2>
      <p className="notice">
        This TRE runs with the <strong>local dev token issuer</strong> (no Entra ID configured): choose who you are. It
        answers only on this machine. Workspace roles (owner, researcher) are given in a workspace's <em>Users</em>.
      </p>
      <form onSubmit={submit} className="dev-form">
        <div className="field-block">
          <label className="field" htmlFor="dev-user">
            User name
          </label>
          <input
            id="dev-user"
            name="user"
            value={user}
            onChange={(e) => setUser(e.target.value)}
            autoComplete="username"
            required
            pattern="[A-Za-z0-9][A-Za-z0-9._@\-]{0,63}"
            aria-describedby="user-help"
          />
          <span id="user-help" className="help">
            The same name is the same user (user id) every time.
          </span>
        </div>
        <fieldset>
          <legend>TRE roles</legend>
          {roleChoices.map((r) => (
            <div key={r.id} className="check">
              <input
                type="checkbox"
                id={`role-${r.id}`}
                name="roles"
                value={r.id}
                checked={roles.includes(r.id)}
                onChange={() => toggle(r.id)}
                aria-describedby={`role-${r.id}-help`}
              />
              <label htmlFor={`role-${r.id}`}>{r.label}</label>
              <span id={`role-${r.id}-help`} className="help">
                {r.help}
              </span>
            </div>
          ))}
        </fieldset>
        <div className="button-row">
          <button type="submit" className="primary" disabled={action.busy}>
            Sign in
          </button>
        </div>
      </form>
      <ErrorPanel error={action.error} title="The dev sign-in failed" />
    </section>
  );
}
