#!/usr/bin/env node
// The web UI's browser test: what a new user does, in headless Chromium
// (Debian's chromium, driven by playwright-core), against a running
// tre-handler in local mode (dev sign-in, the sandbox templates, the local
// runner). handlers/browser_test.go starts the handler and runs this.
//
//   node walk.js BASE_URL SCREENSHOT_DIR
//   node walk.js --through-host TOKEN BASE_URL SCREENSHOT_DIR
//
// With --through-host, BASE_URL is the Functions host stand-in in front of
// the handler (funchost.Front): it buffers responses, so the operation's
// event stream cannot come through and the page must poll; the dev sign-in
// is refused through a host, so the walk signs in with TOKEN (a dev token
// the test minted) and checks that the page follows an install by polling.
//
// Environment: CHROMIUM (default /usr/bin/chromium). Each step prints one
// line ("step: ..."); the first failure ends the walk with exit code 1 and
// a screenshot named failure.png. A console error or an uncaught exception
// in the page (a Content Security Policy violation is one) fails it too.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const args = process.argv.slice(2);
let hostToken;
if (args[0] === "--through-host") {
  hostToken = args[1];
  args.splice(0, 2);
}
const [base, shots] = args;
if (!base || !shots) {
  console.error("usage: node walk.js [--through-host TOKEN] BASE_URL SCREENSHOT_DIR");
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });

const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let shotN = 0;
let current; // the page in use, for the failure's screenshot
const profiles = []; // the browsers' fresh user data directories, removed at the end

function removeProfiles() {
  for (const dir of profiles) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch (e) {
      console.error(`could not remove ${dir}: ${e.message}`);
    }
  }
}
const pageProblems = [];

function step(msg) {
  console.log(`step: ${msg}`);
}

function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

async function shot(page, name, opts = {}) {
  shotN++;
  const file = path.join(shots, `${String(shotN).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true, ...opts });
  console.log(`screenshot: ${file}`);
}

// docShot saves the visible part of the page as doc-<name>.png: the
// README's pictures (docs/img) are picked from these.
async function docShot(page, name) {
  const file = path.join(shots, `doc-${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  console.log(`screenshot: ${file}`);
}

async function launch(extra = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tre-chromium-"));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: chromiumArgs,
    viewport: { width: 1280, height: 900 },
    ...extra,
  });
  profiles.push(dir);
  return ctx;
}

function watch(page) {
  page.on("console", (m) => {
    if (m.type() === "error" && !expectedConsoleError(m.text())) pageProblems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => pageProblems.push(`uncaught in the page: ${e.message}`));
}

// The browser logs every 4xx answer as a console error; the walk provokes
// some on purpose (the API's refusal of an incomplete form).
function expectedConsoleError(text) {
  return /Failed to load resource: the server responded with a status of 4\d\d/.test(text);
}

async function signIn(page, user, roles) {
  await page.goto(`${base}/`);
  await page.getByRole("heading", { name: "Dev sign-in" }).waitFor();
  await page.locator("#dev-user").fill(user);
  for (const role of ["TREAdmin", "TREUser"]) {
    await page.locator(`#role-${role}`).setChecked(roles.includes(role));
  }
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Workspaces", level: 1 }).waitFor();
}

async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Dev sign-in" }).waitFor();
}

// follow waits for the latest operation on the page to end, recording each
// status it shows on the way: proof that the page follows it live.
async function follow(page, action, want, timeout = 60000) {
  const op = page.locator(`section.operation[data-action="${action}"]`).first();
  await op.waitFor({ timeout });
  const seen = [];
  const deadline = Date.now() + timeout;
  for (;;) {
    const status = await op.getAttribute("data-status");
    if (seen[seen.length - 1] !== status) seen.push(status);
    if (/(^deployed|updated|deleted|action_succeeded|_failed)$/.test(status)) break;
    if (Date.now() > deadline) throw new Error(`the operation did not end in ${timeout} ms (statuses seen: ${seen.join(" → ")})`);
    await page.waitForTimeout(100);
  }
  const last = seen[seen.length - 1];
  if (last !== want) {
    const text = await op.innerText();
    throw new Error(`the operation ended ${last}, want ${want} (statuses seen: ${seen.join(" → ")}):\n${text}`);
  }
  return seen;
}

function tab(page, name) {
  return page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name, exact: true });
}

async function fill(page, field, value) {
  await page.locator(`#root_${field}`).fill(String(value));
}

async function create(page, kind, templateTitle, fields) {
  await page.getByRole("link", { name: kind === "workspace" ? "Create workspace" : `Add ${kind}` }).click();
  await page.getByRole("button", { name: `Use ${templateTitle}` }).click();
  await page.locator("#root_display_name").waitFor();
  for (const [k, v] of Object.entries(fields)) await fill(page, k, v);
}

// throughHost: behind the host stand-in, the page falls back to polling.
async function throughHost() {
  const ctx = await launch();
  const page = ctx.pages()[0] || (await ctx.newPage());
  current = page;
  watch(page);

  step("through the Functions host stand-in: the page and its assets load; the dev sign-in is refused there");
  await page.goto(`${base}/`);
  await page.getByRole("heading", { name: "Dev sign-in" }).waitFor();
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("came through a proxy or the Functions host").waitFor();
  await shot(page, "host-dev-sign-in-refused");

  step("signed in with a token: an install is followed by polling, as the host buffers the event stream");
  await page.evaluate((token) => {
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    const session = { mode: "dev", token, expiresAt: claims.exp * 1000, user: { id: claims.oid, name: claims.name, roles: claims.roles } };
    sessionStorage.setItem("tre.session", JSON.stringify(session));
  }, hostToken);
  await page.reload();
  await page.getByRole("heading", { name: "Workspaces", level: 1 }).waitFor();
  await create(page, "workspace", "Sandbox Workspace", { display_name: "Through the host", description: "Polled", install_seconds: 8 });
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.getByRole("heading", { name: "Through the host", level: 1 }).waitFor();
  await page.locator(".operation .live", { hasText: "polling" }).waitFor({ timeout: 20000 });
  await shot(page, "host-polling");
  const seen = await follow(page, "install", "deployed");
  check(seen.some((st) => st === "deploying" || st.startsWith("awaiting")), `the page showed the install in progress (${seen.join(" → ")})`);
  check(pageProblems.length === 0, `the page reported problems:\n${pageProblems.join("\n")}`);
  await ctx.close();
}

async function main() {
  if (hostToken) return throughHost();
  const ctx = await launch();
  const page = ctx.pages()[0] || (await ctx.newPage());
  current = page;
  watch(page);

  step("the page at / is the TRE's (title Azure TRE), with the dev sign-in");
  const resp = await page.goto(`${base}/`);
  check(resp.status() === 200, `GET / answered ${resp.status()}`);
  check((await page.title()) === "Azure TRE", `title is ${await page.title()}`);
  check((await resp.text()).includes("<title>Azure TRE</title>"), "the served HTML has AzureTRE's title (e2e test_ui)");
  await page.getByRole("heading", { name: "Dev sign-in" }).waitFor();
  await shot(page, "sign-in");

  step("sign in as alice, a TRE admin");
  await signIn(page, "alice", ["TREAdmin"]);
  await shot(page, "workspaces-empty");

  step("create a workspace from the sandbox template: a required field left empty shows the API's error at the field");
  await create(page, "workspace", "Sandbox Workspace", { description: "Made by the browser test" });
  await page.getByRole("button", { name: "Create workspace" }).click();
  const nameField = page.locator(".rjsf-field-error", { has: page.locator("#root_display_name") });
  await nameField.getByText("display_name is required").waitFor();
  check((await page.locator(".error-panel").innerText()).includes("Request id"), "the error shows the request id");
  check(await page.locator("#root_display_name").evaluate((el) => el === document.activeElement), "the focus is on the field at fault");
  check((await page.locator("#root_description").inputValue()) === "Made by the browser test", "the form kept what was typed");
  await shot(page, "create-workspace-field-error");
  await page.locator("#root_display_name").scrollIntoViewIfNeeded();
  await docShot(page, "create-workspace-field-error");

  step("with its name, the workspace is created and its operation reaches deployed live");
  await fill(page, "display_name", "Browser test workspace");
  await fill(page, "install_seconds", 3);
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.getByRole("heading", { name: "Browser test workspace", level: 1 }).waitFor();
  await page.locator("section.operation[data-status=deploying]").waitFor({ timeout: 30000 });
  await page.locator(".step pre.log").first().waitFor({ timeout: 30000 }); // the bundle's output, live
  await shot(page, "workspace-deploying");
  await docShot(page, "workspace-deploying");
  let seen = await follow(page, "install", "deployed");
  check(seen.includes("deploying"), `the page showed the operation in progress (statuses seen: ${seen.join(" → ")})`);
  check((await page.locator(".operation .live").innerText()) === "", "the live marker goes once it ended");
  await page.locator(".page-head .badge[data-status=deployed]").waitFor();
  await shot(page, "workspace-deployed");
  const workspaceURL = page.url();

  step("the workspace's users: alice, who created it, is its owner (workspace_owner_object_id); she gives rita the researcher role");
  await tab(page, "Users").click();
  await page.getByRole("row", { name: /alice.*Workspace Owner/ }).waitFor();
  await page.locator("#assign-who").fill("rita");
  await page.locator("#assign-role").selectOption("WorkspaceResearcher");
  const assigned = page.waitForResponse((r) => r.url().endsWith("/users/assign") && r.request().method() === "POST");
  await page.getByRole("button", { name: "Assign" }).click();
  check((await assigned).status() === 202, "the assignment was accepted");
  await page.getByRole("cell", { name: "rita" }).waitFor();
  await shot(page, "workspace-users");

  step("add a workspace service");
  await tab(page, "Overview").click();
  await create(page, "workspace service", "Sandbox Workspace Service", { description: "Service of the browser test", display_name: "Browser test service" });
  await shot(page, "create-service-form");
  await page.getByRole("button", { name: "Create workspace service" }).click();
  await page.getByRole("heading", { name: "Browser test service", level: 1 }).waitFor();
  await follow(page, "install", "deployed");
  await shot(page, "service-deployed");
  const serviceURL = page.url();

  step("add a user resource: its sensitive field is masked");
  await create(page, "user resource", "Sandbox VM", { description: "VM of the browser test", display_name: "Browser test VM" });
  check((await page.locator("#root_admin_password").getAttribute("type")) === "password", "the sensitive admin_password is a password field");
  await fill(page, "admin_password", "Sup3r-Secret-Pw!");
  await shot(page, "create-user-resource-form");
  await page.getByRole("button", { name: "Create user resource" }).click();
  await page.getByRole("heading", { name: "Browser test VM", level: 1 }).waitFor();
  await follow(page, "install", "deployed");
  check((await page.locator(".step").count()) === 2, "the VM's operation has its pipeline's two steps");
  check(!(await page.content()).includes("Sup3r-Secret-Pw!"), "the sensitive value is shown nowhere");
  await shot(page, "user-resource-deployed");
  await docShot(page, "user-resource-deployed");

  step("run a custom action of the service (restart)");
  await page.goto(serviceURL);
  await page.getByRole("button", { name: "restart" }).click();
  await page.locator("section.operation[data-operation]").first().waitFor();
  await follow(page, "restart", "action_succeeded");
  await shot(page, "service-custom-action");

  step("update the service through its update form: what cannot change is read-only, only what changed is sent");
  await tab(page, "Update").click();
  await page.locator("#root_description").waitFor();
  check(!(await page.locator("#root_install_seconds").isEditable()), "install_seconds is not updateable: read-only in the update form");
  check(await page.locator("#root_max_vms").isEditable(), "max_vms is updateable");
  await page.getByRole("button", { name: "Update workspace service" }).click();
  await page.getByText("Nothing changed: there is nothing to send.").waitFor();
  await fill(page, "description", "Service of the browser test, updated");
  await page.getByRole("button", { name: "Update workspace service" }).click();
  await follow(page, "upgrade", "updated");
  await page.getByText("Service of the browser test, updated").first().waitFor();
  await shot(page, "service-updated");

  step("the service's operations and history");
  await tab(page, "Operations").click();
  await page.getByRole("table").waitFor();
  await shot(page, "service-operations");
  await tab(page, "History").click();
  await page.getByRole("heading", { name: "History" }).waitFor();
  await shot(page, "service-history");

  step("sign in as rita, a researcher of the workspace: she sees only what she may act on");
  await signOut(page);
  await signIn(page, "rita", ["TREUser"]);
  check((await page.getByRole("link", { name: "Create workspace" }).count()) === 0, "no Create workspace for a researcher");
  check((await page.getByRole("link", { name: "Templates" }).count()) === 0, "no admin pages in the menu");
  await page.getByRole("link", { name: "Browser test workspace" }).click();
  await page.getByRole("heading", { name: "Browser test service" }).waitFor();
  check((await page.getByRole("button", { name: "Disable" }).count()) === 0, "a researcher cannot disable the workspace");
  check((await page.getByRole("link", { name: "Add workspace service" }).count()) === 0, "a researcher cannot add a service");
  check((await tab(page, "Operations").count()) === 0, "a researcher does not see the workspace's operations");
  await shot(page, "researcher-workspace");
  await page.goto(serviceURL);
  await page.getByRole("heading", { name: "Browser test service", level: 1 }).waitFor();
  await page.getByRole("link", { name: "Add user resource" }).waitFor();
  check((await page.getByRole("button", { name: "restart" }).count()) === 0, "a researcher cannot run the service's actions");
  check((await page.getByRole("link", { name: "Browser test VM" }).count()) === 0, "a researcher sees only their own user resources");
  await shot(page, "researcher-service");

  step("sign in as alice again: disable the workspace (and everything in it), then delete it");
  await signOut(page);
  await signIn(page, "alice", ["TREAdmin"]);
  await page.goto(workspaceURL);
  await page.getByRole("button", { name: "Disable" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Disable" }).click();
  await page.locator(".page-head .badge-disabled").waitFor();
  await follow(page, "upgrade", "updated");
  await shot(page, "workspace-disabled");
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Delete" }).click();
  seen = await follow(page, "uninstall", "deleted");
  await shot(page, "workspace-deleted");

  step("a failed install shows the bundle's own error; a retry from the failed step completes it");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Workspaces" }).click();
  await create(page, "workspace", "Sandbox Workspace", { display_name: "Retry demo", description: "Fails once", fail_install_attempts: 1 });
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.getByRole("heading", { name: "Retry demo", level: 1 }).waitFor();
  await follow(page, "install", "deployment_failed");
  await page.locator(".step-message", { hasText: "simulated failure: attempt 1 of the install fails" }).waitFor();
  await shot(page, "workspace-install-failed");
  await page.getByRole("button", { name: "Retry from the failed step" }).click();
  await page.locator('section.operation[data-action="install"]:not([data-status="deployment_failed"])').waitFor();
  seen = await follow(page, "install", "deployed");
  check((await page.locator(".operation").innerText()).includes("attempt 2"), "the operation says it is its second attempt");
  await page.getByText("Earlier attempts (1)").click();
  await page.locator(".attempts .step-message", { hasText: "simulated failure: attempt 1" }).waitFor();
  await shot(page, "workspace-retried");

  step("template versions: a new version is made current, the old one deprecated with a reason");
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("tre.session")).token);
  const schema = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "templates", "workspaces", "sandbox", "template_schema.json"), "utf8"));
  const reg = await page.request.post(`${base}/api/workspace-templates`, {
    headers: { Authorization: `Bearer ${token}` },
    data: { name: "tre-workspace-sandbox", version: "0.2.0", current: false, json_schema: schema },
  });
  check(reg.status() === 201, `registering 0.2.0 answered ${reg.status()}: ${await reg.text()}`);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Templates" }).click();
  await page.getByRole("link", { name: "Sandbox Workspace", exact: true }).click();
  const v020 = page.locator('tr[data-version="0.2.0"]');
  await v020.getByRole("button", { name: "Make current" }).click();
  await v020.getByText("current", { exact: true }).waitFor();
  const v010 = page.locator('tr[data-version="0.1.0"]');
  await v010.getByRole("button", { name: "Deprecate…" }).click();
  await page.getByRole("alertdialog").getByLabel("Reason").fill("Replaced by 0.2.0");
  await page.getByRole("alertdialog").getByRole("button", { name: "Deprecate" }).click();
  await v010.getByText("Replaced by 0.2.0").waitFor();
  await shot(page, "template-versions-changed");

  step("the upgrades view lists what can be upgraded; an upgrade whose bundle is missing fails with the runner's reason");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Upgrades" }).click();
  const row = page.getByRole("row", { name: /Retry demo/ });
  await row.waitFor();
  await shot(page, "upgrades");
  await row.getByRole("button", { name: "Upgrade" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Upgrade" }).click();
  await page.getByRole("region", { name: "Upgrades started" }).getByRole("link", { name: "follow the operation" }).click();
  await follow(page, "upgrade", "updating_failed");
  await page.locator(".step-message", { hasText: "0.2.0" }).waitFor();
  await shot(page, "upgrade-failed");

  step("the admin pages: templates, a template's versions, firewall, dead letters, health, upgrades");
  for (const [link, heading, name] of [
    ["Templates", "Templates", "templates"],
    ["Firewall", "Firewall", "firewall"],
    ["Dead letters", "Dead letters", "dead-letters"],
    ["Upgrades", "Upgrades", "upgrades"],
    ["Health", "Health", "health"],
    ["Shared services", "Shared services", "shared-services"],
  ]) {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: link }).click();
    await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
    await page.waitForLoadState("networkidle");
    await shot(page, name);
  }
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Templates" }).click();
  await page.getByRole("link", { name: "Sandbox Workspace", exact: true }).click();
  await page.getByRole("table").first().waitFor();
  await shot(page, "template-versions");

  step("at phone width the menu folds behind a button and the pages fit");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Workspaces" }).isHidden();
  await page.getByRole("button", { name: "Menu" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Workspaces" }).click();
  await page.getByRole("heading", { name: "Workspaces", level: 1 }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the page is ${overflow}px wider than a phone`);
  await shot(page, "phone-workspaces", { fullPage: false });
  await docShot(page, "phone-workspaces");

  check(pageProblems.length === 0, `the page reported problems:\n${pageProblems.join("\n")}`);
  await ctx.close();

  step("accessibility: axe-core finds no serious or critical violation on the main views");
  await audit(workspaceURL);
}

// audit runs axe-core on the main views (in a context that lets the test
// inject it past the page's Content Security Policy).
async function audit() {
  const ctx = await launch({ bypassCSP: true });
  const page = ctx.pages()[0] || (await ctx.newPage());
  current = page;
  const axe = require.resolve("axe-core/axe.min.js");
  const views = [];
  await page.goto(`${base}/`);
  views.push(await axeRun(page, axe, "sign-in"));
  await signIn(page, "alice", ["TREAdmin"]);
  views.push(await axeRun(page, axe, "workspaces"));
  await page.getByRole("link", { name: "Create workspace" }).click();
  await page.getByRole("button", { name: "Use Sandbox Workspace" }).click();
  await page.locator("#root_display_name").waitFor();
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.getByText("display_name is required", { exact: true }).waitFor();
  views.push(await axeRun(page, axe, "create form with errors"));
  for (const link of ["Templates", "Firewall", "Health"]) {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: link }).click();
    await page.getByRole("heading", { name: link, level: 1 }).waitFor();
    await page.waitForLoadState("networkidle");
    views.push(await axeRun(page, axe, link));
  }
  await ctx.close();
  const bad = views.flat();
  check(bad.length === 0, `axe-core:\n${bad.join("\n")}`);
}

async function axeRun(page, axePath, name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of result) console.log(`axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.join(", ")})`);
  return serious.map((v) => `${name}: ${v.id}: ${v.help} at ${v.nodes.join(", ")}`);
}

main().then(
  () => {
    removeProfiles();
    console.log("ok: the walk passed");
    process.exit(0);
  },
  async (e) => {
    console.error(`FAIL: ${e.stack || e}`);
    if (current) {
      const file = path.join(shots, "failure.png");
      await current.screenshot({ path: file, fullPage: true }).then(() => console.error(`screenshot: ${file}`), () => {});
    }
    if (pageProblems.length) console.error(`the page reported:\n${pageProblems.join("\n")}`);
    removeProfiles();
    process.exit(1);
  },
);
