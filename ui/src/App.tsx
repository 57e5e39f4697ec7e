import { Suspense, lazy, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Client } from "./api/client";
import { completeSignIn, refresh, signOutURL } from "./auth/entra";
import { isAdmin, loadSession, saveSession, type Session } from "./auth/session";
import type { Config } from "./config";
import { AppContext, useApp, type AppState } from "./context";
import { href, useRoute, type Route } from "./router";
import { SignIn } from "./views/SignIn";
import { Loading } from "./components/common";
import { Workspaces } from "./views/Workspaces";
import { ResourceView } from "./views/ResourceView";
import { OperationPage } from "./views/Records";
import { SharedServices } from "./views/SharedServices";
import { Templates } from "./views/Templates";
import { MyOperations } from "./views/MyOperations";
import { Upgrades } from "./views/Upgrades";
import { Firewall } from "./views/Firewall";
import { DeadLetters } from "./views/DeadLetters";
import { Health } from "./views/Health";

// The forms (and their form library) load when first needed.
const Create = lazy(() => import("./views/Create").then((m) => ({ default: m.Create })));

// App signs the user in, then shows the view of the route.
export function App({ config }: { config: Config }) {
  const [session, setSession] = useState<Session | null>(() => loadSession(Date.now()));
  const [notice, setNotice] = useState<string>();
  const [completing, setCompleting] = useState(() => config.authMode === "entra" && /[?&](code|error)=/.test(window.location.search));

  const signIn = useCallback((s: Session) => {
    saveSession(s);
    setSession(s);
    setNotice(undefined);
  }, []);
  const signOut = useCallback(
    (why?: string) => {
      saveSession(null);
      setSession(null);
      setNotice(why);
      if (!why && config.authMode === "entra" && config.authority && config.tenantId) window.location.assign(signOutURL(config));
    },
    [config],
  );

  // Entra ID's answer to a sign-in comes back in the query string.
  useEffect(() => {
    if (!completing) return;
    completeSignIn(config, new URL(window.location.href))
      .then((done) => {
        if (done) {
          signIn(done.session);
          window.history.replaceState(null, "", `/${done.returnTo || ""}`);
        }
      })
      .catch((e: Error) => {
        window.history.replaceState(null, "", "/");
        setNotice(e.message);
      })
      .finally(() => setCompleting(false));
  }, [completing, config, signIn]);

  // Tokens expire: Entra ID sessions renew ahead of time; a dev session ends.
  useEffect(() => {
    if (!session) return;
    const ahead = session.refreshToken ? 5 * 60_000 : 0;
    const wait = Math.max(0, session.expiresAt - ahead - Date.now());
    const t = setTimeout(() => {
      if (session.refreshToken) {
        refresh(config, session).then(signIn, () => signOut("Your session expired: sign in again."));
      } else {
        signOut("Your session expired: sign in again.");
      }
    }, Math.min(wait, 2 ** 31 - 1));
    return () => clearTimeout(t);
  }, [session, config, signIn, signOut]);

  const tokenRef = useRef(session?.token);
  tokenRef.current = session?.token;
  const client = useMemo(
    () => new Client(() => tokenRef.current, (e) => signOut(`The API did not accept your sign-in (${e.detail}): sign in again.`)),
    [signOut],
  );

  if (completing) {
    return (
      <main id="main" className="sign-in">
        <p role="status">Signing you in…</p>
      </main>
    );
  }
  if (!session) return <SignIn config={config} onSignedIn={signIn} notice={notice} />;
  const state: AppState = { config, session, client, signOut: () => signOut() };
  return (
    <AppContext.Provider value={state}>
      <Shell />
    </AppContext.Provider>
  );
}

function Shell() {
  const route = useRoute();
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  // A new view is announced by moving the focus to it (not on first load).
  useEffect(() => {
    document.title = `${titleOf(route)} · Azure TRE`;
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.focus();
  }, [JSON.stringify(route)]); // a new route, not a new object for the same one
  return (
    <>
      <a className="skip-link" href="#main" onClick={(e) => (e.preventDefault(), mainRef.current?.focus())}>
        Skip to content
      </a>
      <Header route={route} />
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Suspense fallback={<Loading what="the page" />}>
          <View route={route} />
        </Suspense>
      </main>
      <Footer />
    </>
  );
}

function titleOf(r: Route): string {
  switch (r.view) {
    case "workspaces":
      return "Workspaces";
    case "create":
      return `New ${r.kind.replace("-", " ")}`;
    case "resource":
      return r.tab === "overview" ? "Resource" : r.tab;
    default:
      return r.view.replace("-", " ");
  }
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case "workspaces":
      return <Workspaces />;
    case "create":
      return <Create kind={route.kind} parent={route.parent} />;
    case "resource":
      return <ResourceView key={route.path} refTo={route.ref} path={route.path} tab={route.tab} />;
    case "operation":
      return <OperationPage key={route.operationId} refTo={route.ref} path={route.path} operationId={route.operationId} />;
    case "shared-services":
      return <SharedServices />;
    case "templates":
      return <Templates kind={route.kind} parent={route.parent} name={route.name} />;
    case "operations":
      return <MyOperations />;
    case "upgrades":
      return <Upgrades />;
    case "firewall":
      return <Firewall />;
    case "dead-letters":
      return <DeadLetters />;
    case "health":
      return <Health />;
    case "not-found":
      return (
        <>
          <h1>Not found</h1>
          <p>
            Nothing is at <code>{route.path}</code>. <a href={href("/workspaces")}>Go to the workspaces</a>.
          </p>
        </>
      );
  }
}

function Header({ route }: { route: Route }) {
  const { session, signOut, config } = useApp();
  const admin = isAdmin(session);
  const [open, setOpen] = useState(false);
  const links: { to: string; label: string; views: string[] }[] = [
    { to: "/workspaces", label: "Workspaces", views: ["workspaces", "resource", "operation", "create"] },
    { to: "/shared-services", label: "Shared services", views: ["shared-services"] },
    { to: "/operations", label: "My operations", views: ["operations"] },
  ];
  if (admin) {
    links.push(
      { to: "/templates", label: "Templates", views: ["templates"] },
      { to: "/upgrades", label: "Upgrades", views: ["upgrades"] },
      { to: "/firewall", label: "Firewall", views: ["firewall"] },
      { to: "/dead-letters", label: "Dead letters", views: ["dead-letters"] },
    );
  }
  links.push({ to: "/health", label: "Health", views: ["health"] });
  return (
    <header className="top">
      <div className="top-bar">
        <a href={href("/workspaces")} className="brand">
          Azure TRE
        </a>
        {config.authMode === "dev" && (
          <span className="tag tag-dev" title="Tokens come from the local dev issuer, not Entra ID">
            local · dev sign-in
          </span>
        )}
        <button type="button" className="menu-button" aria-expanded={open} aria-controls="nav" onClick={() => setOpen(!open)}>
          Menu
        </button>
        <div className="user">
          <span className="user-name">{session.user.name || session.user.id}</span>
          <span className="muted small">{session.user.roles.join(", ") || "no TRE role"}</span>
          <button type="button" className="link-button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </div>
      <nav id="nav" aria-label="Main" className={open ? "open" : ""}>
        <ul>
          {links.map((l) => (
            <li key={l.to}>
              <a href={href(l.to)} aria-current={l.views.includes(route.view) ? "page" : undefined} onClick={() => setOpen(false)}>
                {l.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
    </header>
  );
}

function Footer() {
  const { config } = useApp();
  return (
    <footer className="footer">
      <span>TRE control plane {config.version ?? ""}</span>
      <span>Sign-in: {config.authMode === "dev" ? "local dev token issuer" : "Microsoft Entra ID"}</span>
      <a href="/api/openapi.json">API description</a>
    </footer>
  );
}

