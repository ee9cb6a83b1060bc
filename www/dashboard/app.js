// The Aero2 Keys dashboard: plain ES modules, no framework, no CDN. It talks to the
// worker's API with the session cookie set at sign-in (a member's passkey, or the platform
// operator's token), and sends the session's CSRF token with every change.
import { parsePublishableKey } from "./vendor/aero2-keys/index.js";

const $ = (selector) => document.querySelector(selector);
const DAY_MS = 24 * 60 * 60 * 1000;
// Keys revoked in this view stay listed (as revoked) until the next reload, so the
// operator sees the revocation happen even while revoked keys are hidden.
// `leaks` and `exposures` are the audit entries the banners summarise; `auditListing`
// counts the audit table's listings (see loadAudit) and `auditCursor` is where the next,
// older page starts.
// `disabledEndpoints` are the application's webhook endpoints that were disabled, for a
// banner on the keys page.
// `kind` is "member" (a passkey) or "operator"; a member's `memberships` name their
// accounts and roles, and `accountId` is the account the pages show.
const state = {
  csrf: null, app: null, keys: [], leaks: [], exposures: [], auditListing: 0, auditCursor: null,
  showRevoked: false, justRevoked: new Set(), disabledEndpoints: [],
  kind: null, memberships: [], accountId: null, accountLogCursor: null, sessionEnded: false,
};
// One page of the audit table; "Older entries" appends the next.
const AUDIT_PAGE_SIZE = 25;

class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from the Retry-After header of a 429
  }
}

/** A request to the API; a step-up action answered `reauthentication_required` is retried
 *  once the member has confirmed with their passkey. */
async function api(method, path, body) {
  try {
    return await request(method, path, body);
  } catch (error) {
    if (error.code !== "reauthentication_required" || state.kind !== "member") throw error;
    say("This cannot be undone: confirm with your passkey.");
    await stepUp();
    say("");
    return request(method, path, body);
  }
}

async function request(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["x-csrf-token"] = state.csrf;
  let response;
  try {
    response = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    // Offline, or the worker is not answering: say so, instead of the browser's "Failed to fetch".
    throw new ApiError(0, "unreachable", "The API could not be reached: check your connection, then try again.", null);
  }
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401 && path !== "/v1/dashboard/session" && !path.startsWith("/v1/passkeys/authentication") && !path.startsWith("/v1/invitations/")) {
      // The session ended elsewhere: signed out everywhere, ended from another browser,
      // expired. The page the address names stays, so signing in again comes back to it;
      // the error says the same as the status line, whoever shows it.
      // Requests in flight together all get their 401: each says the same, once.
      const message = "This session has ended: sign in again.";
      if (state.csrf) {
        holdOpenDialogs();
        showSignIn();
        state.sessionEnded = true;
        say(message);
      } else if (!state.sessionEnded) {
        showSignIn();
      }
      if (state.sessionEnded) throw new ApiError(401, json.error?.code ?? "error", message, null);
    }
    const retryAfter = Number(response.headers.get("retry-after")) || null;
    throw new ApiError(response.status, json.error?.code ?? "error", json.error?.message ?? `HTTP ${response.status}`, retryAfter);
  }
  return json;
}

function say(message) { $("#status").textContent = message; }

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "onclick") node.addEventListener("click", value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const VIEWS = ["sign-in-view", "join-view", "apps-view", "app-view", "sessions-view", "members-view", "passkeys-view", "account-log-view"];

function show(view) {
  for (const id of VIEWS) $(`#${id}`).hidden = id !== view;
  if (view === "sign-in-view" || view === "join-view") $("#page-state").hidden = true;
  $("#account").hidden = view === "sign-in-view" || view === "join-view";
}

function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "never";
}

/**
 * Where a change to a key holds, from its receipt. A null receipt means the write to the
 * edge's store failed and waits for a retry: the change holds at the key ring already.
 */
function everywhereFrom(effectiveAt) {
  return effectiveAt
    ? `everywhere from ${formatTime(effectiveAt)}`
    : "at the key ring now, and at the edge once a failed KV write is retried";
}

/** "3 min ago", "in 23 h": short enough for a table cell; the exact time is its title. */
function relativeTime(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 45) return "just now";
  const [value, unit] = size < 3600 ? [Math.round(size / 60), "min"]
    : size < 86400 ? [Math.round(size / 3600), "h"]
      : size < 86400 * 60 ? [Math.round(size / 86400), "d"]
        : [Math.round(size / (86400 * 30)), "mo"];
  return seconds < 0 ? `${value} ${unit} ago` : `in ${value} ${unit}`;
}

/** A time as `<time>`: relative, with the exact time on hover (and for screen readers). */
function timeEl(iso, empty = "never") {
  if (!iso) return el("span", { class: "hint" }, empty);
  return el("time", { datetime: iso, title: formatTime(iso), "data-relative": iso, "aria-label": formatTime(iso) }, relativeTime(iso));
}

setInterval(() => {
  for (const node of document.querySelectorAll("[data-relative]")) node.textContent = relativeTime(node.dataset.relative);
}, 30_000);

/**
 * A row's actions in one menu: a button that opens a `role="menu"` of `role="menuitem"`
 * buttons. Enter, Space or Arrow Down opens it on the first item; arrows move; Escape or
 * Tab closes it and focus goes back to the button, as it does after a chosen action's
 * dialog closes.
 */
function actionMenu(name, items) {
  const button = el("button", { type: "button", class: "menu-button", "aria-haspopup": "menu", "aria-expanded": "false", "aria-label": `Actions for ${name}` }, "Actions");
  const menu = el("div", { role: "menu", class: "menu", "aria-label": `Actions for ${name}`, hidden: true });
  const entries = items.map((item) => el("button", {
    type: "button", role: "menuitem", tabindex: "-1", class: item.danger ? "danger" : undefined,
    disabled: item.disabled, "aria-label": item.label,
    onclick: () => { close(true); item.action(); },
  }, item.text));
  menu.append(...entries);
  const enabled = () => entries.filter((entry) => !entry.disabled);
  function open(focusLast = false) {
    for (const other of document.querySelectorAll(".menu:not([hidden])")) other.dispatchEvent(new Event("aero2-close"));
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    const list = enabled();
    list[focusLast ? list.length - 1 : 0]?.focus();
  }
  function close(refocus) {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (refocus) button.focus();
  }
  menu.addEventListener("aero2-close", () => close(false));
  button.addEventListener("click", () => (menu.hidden ? open() : close(true)));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") { event.preventDefault(); open(event.key === "ArrowUp"); }
  });
  menu.addEventListener("keydown", (event) => {
    const list = enabled();
    const at = list.indexOf(document.activeElement);
    if (event.key === "Escape") { event.preventDefault(); close(true); }
    else if (event.key === "Tab") close(false);
    else if (event.key === "ArrowDown") { event.preventDefault(); list[(at + 1) % list.length]?.focus(); }
    else if (event.key === "ArrowUp") { event.preventDefault(); list[(at - 1 + list.length) % list.length]?.focus(); }
    else if (event.key === "Home") { event.preventDefault(); list[0]?.focus(); }
    else if (event.key === "End") { event.preventDefault(); list[list.length - 1]?.focus(); }
  });
  menu.addEventListener("focusout", (event) => {
    if (!menu.contains(event.relatedTarget) && event.relatedTarget !== button) close(false);
  });
  return el("div", { class: "menu-wrap" }, button, menu);
}

// Tab and Shift+Tab stay in an open modal dialog: past its last control, to its first, and
// back (a native modal dialog lets focus leave for the browser's own controls).
document.addEventListener("keydown", (event) => {
  if (event.key !== "Tab") return;
  const dialog = [...document.querySelectorAll("dialog[open]")].at(-1);
  if (!dialog) return;
  const focusable = [...dialog.querySelectorAll("button, [href], input, select, textarea, summary, [tabindex]:not([tabindex='-1'])")]
    .filter((node) => !node.disabled && node.getClientRects().length && !(node.type === "radio" && !node.checked));
  if (!focusable.length) return;
  const [first, last] = [focusable[0], focusable.at(-1)];
  if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) { event.preventDefault(); last.focus(); }
  else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) { event.preventDefault(); first.focus(); }
});

// A click outside any open menu closes it.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll(".menu:not([hidden])")) {
    if (!menu.parentElement.contains(event.target)) menu.dispatchEvent(new Event("aero2-close"));
  }
});

/** With seconds, for delivery attempts that can be moments apart. */
function formatMoment(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

function countdown(iso) {
  const ms = Date.parse(iso) - Date.now();
  if (ms <= 0) return "ended";
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (d ? `${d}d ` : "") + `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")} left`;
}

setInterval(() => {
  for (const node of document.querySelectorAll("[data-expires]")) node.textContent = countdown(node.dataset.expires);
}, 1000);

// ----- session ---------------------------------------------------------------------------

function showSignIn() {
  Object.assign(state, { csrf: null, kind: null, memberships: [], accountId: null });
  // A page load still in flight belongs to the session that ended. Finishing on the sign-in
  // page, it must not count as the page's load: it would decide the held dialog for nobody
  // signed in, and so drop it before the person signs in again.
  pageLoads++;
  show("sign-in-view");
  $("#passkey-sign-in").focus();
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#sign-in-error").textContent = "";
  try {
    const session = await api("POST", "/v1/dashboard/session", { token: $("#admin-token").value });
    state.csrf = session.csrf;
    await loadSession();
    $("#admin-token").value = "";
    say("");
    await route();
  } catch (error) {
    // Past 10 attempts a minute from one address the worker refuses sign-ins for a while,
    // and says for how long.
    const wait = error.retryAfter ?? 60;
    $("#sign-in-error").textContent = error.code === "too_many_sign_in_attempts"
      ? `Too many sign-in attempts from this address. Wait ${wait} second${wait === 1 ? "" : "s"}, then try again.`
      : error.message;
  }
});

$("#sign-out").addEventListener("click", async () => {
  try {
    await api("DELETE", "/v1/dashboard/session");
  } catch (error) {
    // Anything but a 401 (already signed out) leaves the session alive on the server:
    // say so rather than pretend, so the operator can try again.
    if (error.status !== 401) { say(`Not signed out: ${error.message}`); return; }
  }
  heldDialog = null; // whoever signs in next in this tab gets nothing typed before
  showSignIn();
  say("Signed out.");
});

// Every signed-in browser: the operator can end any other one, or all of them.
async function showSessions() {
  show("sessions-view");
  const { sessions } = await api("GET", "/v1/dashboard/sessions");
  $("#sessions-table tbody").replaceChildren(...sessions.map((session) => el("tr", { "data-session-id": session.id },
    el("td", { "data-label": "Session" }, el("span", {}, el("code", {}, session.id),
      session.current ? el("span", { class: "badge active" }, "This session") : "")),
    el("td", { "data-label": "Created" }, formatTime(session.created_at)),
    el("td", { "data-label": "Last seen" }, formatTime(session.last_seen_at)),
    el("td", { "data-label": "Address" }, session.ip ?? "—"),
    el("td", { "data-label": "Browser", class: "user-agent" }, session.user_agent ?? "—"),
    el("td", { "data-label": "Actions" }, session.current ? "—" : el("button", {
      type: "button", class: "danger", onclick: () => endSession(session),
      "aria-label": `End session ${session.id} from ${session.ip ?? "an unknown address"}`,
    }, "End")))));
}

async function endSession(session) {
  const where = session.ip ?? "an unknown address";
  if (!await confirmed("End this session?", `The session from ${where} (${session.user_agent ?? "an unknown browser"}) is signed out at its next request.`, "End session")) return;
  try {
    await api("DELETE", `/v1/dashboard/sessions/${session.id}`);
    say(`Ended session ${session.id}.`);
  } catch (error) {
    if (error.status === 401) return; // this session is over too: the sign-in view shows
    say(error.message); // session_not_found: it ended meanwhile; the list below shows that
  }
  await showSessions().catch((error) => say(error.message));
}

$("#sign-out-everywhere").addEventListener("click", async () => {
  if (await ask($("#sign-out-everywhere-dialog")) !== "confirm") return;
  try {
    await api("DELETE", "/v1/dashboard/sessions");
    showSignIn();
    say("Signed out everywhere: every session has ended.");
  } catch (error) { say(error.message); }
});

// ----- applications ----------------------------------------------------------------------

async function showApps() {
  show("apps-view");
  const member = state.kind === "member";
  const account = currentMembership();
  $("#apps-title").textContent = member ? `Applications of ${account?.account_name ?? "your account"}` : "Applications";
  $("#create-app-form").hidden = member && !may(account?.role, "create_application");
  const { applications: all } = await api("GET", "/v1/applications");
  const applications = member ? all.filter((app) => app.account_id === state.accountId) : all;
  const list = $("#app-list");
  list.replaceChildren(...applications.map((app) =>
    el("li", { class: "card" },
      el("a", { href: `#/apps/${app.id}` }, app.name),
      el("span", { class: "hint" }, ` ${app.environment} · ${app.id} · created ${formatTime(app.created_at)}`))));
  if (!applications.length) list.append(el("li", { class: "hint" }, "No applications yet."));
}

$("#create-app-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const body = { name: $("#app-name").value, environment: $("#app-environment").value };
    if (state.kind === "member") body.account_id = state.accountId;
    const created = await api("POST", "/v1/applications", body);
    $("#app-name").value = "";
    reveal("Your application's first keys", created.keys);
    location.hash = `#/apps/${created.application.id}`;
  } catch (error) { say(error.message); }
});

// ----- one application -------------------------------------------------------------------

const base = () => `/v1/applications/${state.app.id}`;

// An application has two pages: its keys and audit log (#/apps/{id}) and its webhooks
// (#/apps/{id}/webhooks).
async function showApp(id, page = "keys") {
  show("app-view");
  $("#show-revoked").checked = state.showRevoked;
  const { applications } = await api("GET", "/v1/applications");
  // What the banners summarise belongs to one application.
  if (state.app?.id !== id) Object.assign(state, { leaks: [], exposures: [], disabledEndpoints: [] });
  state.app = applications.find((a) => a.id === id);
  if (!state.app) { say("No such application."); location.hash = "#/"; return; }
  $("#app-title").textContent = state.app.name;
  $("#app-meta").textContent = `${state.app.environment} · ${state.app.id}`;
  // A member sees the actions their role allows here; the API refuses the others anyway.
  if (state.kind === "member" && state.app.account_id && state.app.account_id !== state.accountId) {
    state.accountId = state.app.account_id;
    renderNav();
  }
  $("#create-key").hidden = !canChangeKeys();
  $("#create-canary").hidden = !canChangeKeys();
  $("#add-endpoint").hidden = !canManageWebhooks();
  const onWebhooks = page === "webhooks";
  for (const [tab, path, current] of [["#tab-keys", "", !onWebhooks], ["#tab-webhooks", "/webhooks", onWebhooks]]) {
    $(tab).href = `#/apps/${id}${path}`;
    if (current) $(tab).setAttribute("aria-current", "page");
    else $(tab).removeAttribute("aria-current");
  }
  $("#keys-panel").hidden = onWebhooks;
  $("#webhooks-panel").hidden = !onWebhooks;
  if (onWebhooks) { await openWebhooks(); return; }
  $("#usage-panel").hidden = true;
  await Promise.all([loadKeys(), loadAudit()]);
}

async function loadKeys() {
  state.keys = (await api("GET", `${base()}/keys?include_revoked=true`)).keys;
  renderKeys();
  renderAuditKeys();
}

function renderAuditKeys() {
  const select = $("#audit-key");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "All keys"),
    ...state.keys.map((k) => el("option", { value: k.id }, `${k.label} (${k.hint})`)));
  select.value = chosen;
}

// ----- restrictions at a glance ---------------------------------------------------------

const SCOPES = ["keys:read", "keys:write", "audit:read", "webhooks:read", "webhooks:write"];
// The rights that change something: a key with neither is read-only.
const WRITE_SCOPES = ["keys:write", "webhooks:write"];
// What each read right lets a read-only key see, in the badge's words.
const READ_SCOPES = { "keys:read": "keys", "audit:read": "audit log", "webhooks:read": "webhooks" };
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const WINDOWS = { 1: "s", 60: "min", 3600: "h", 86400: "day" };
const WINDOW_NAMES = { 1: "second", 60: "minute", 3600: "hour", 86400: "day" };
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function rateText({ requests, per_seconds: per }) {
  return `${requests.toLocaleString("en-US")}/${WINDOWS[per] ?? `${per}s`}`;
}

function routeText(rule) {
  return [...(rule.methods ?? []), rule.path].join(" ");
}

/** Short badges for a key's restrictions, each with its full value as a tooltip. */
function restrictionBadges(key) {
  const badges = [];
  const badge = (text, title, kind = "policy") => badges.push(el("span", { class: `badge ${kind}`, title }, text));
  if (key.scopes) {
    const scopes = SCOPES.filter((s) => key.scopes.includes(s));
    const title = scopes.length ? `Scopes: ${scopes.join(", ")}` : "No management rights";
    if (!scopes.length) badge("no management", title);
    else if (!scopes.some((s) => WRITE_SCOPES.includes(s))) {
      // Every read right: plainly read-only; fewer: read-only, and what it can read.
      const reads = Object.keys(READ_SCOPES);
      badge(reads.every((s) => scopes.includes(s)) ? "read-only" : `read-only: ${scopes.map((s) => READ_SCOPES[s]).join(", ")}`, title);
    } else if (scopes.length < SCOPES.length) badge(`scopes: ${scopes.join(", ")}`, title);
  }
  if (key.routes) badge(plural(key.routes.length, "route"), `Routes: ${key.routes.map(routeText).join("; ")}`);
  if (key.allowed_origins) {
    const report = key.origin_policy === "report";
    badge(`${plural(key.allowed_origins.length, "origin")}${report ? " (report)" : ""}`,
      `${report ? "Reported, not refused" : "Only"}: ${key.allowed_origins.join(", ")}`, report ? "policy report" : "policy");
  }
  if (key.allowed_ips) badge(`IP: ${plural(key.allowed_ips.length, "range")}`, `Addresses: ${key.allowed_ips.join(", ")}`);
  if (key.rate_limit) {
    badge(rateText(key.rate_limit),
      `At most ${key.rate_limit.requests} requests per ${WINDOW_NAMES[key.rate_limit.per_seconds] ?? `${key.rate_limit.per_seconds} seconds`}`);
  }
  return badges;
}

function renderKeys() {
  const visible = (k) => state.showRevoked || k.status !== "revoked" || state.justRevoked.has(k.id);
  const rows = state.keys.filter(visible).map((key) => {
    const revoked = key.status === "revoked";
    const suspended = !revoked && Boolean(key.suspended_at);
    const status = revoked ? `revoked${key.revocation_reason === "leaked" ? ": leaked" : ""}` : suspended ? "suspended" : key.status;
    const name = `${key.label} ${key.hint}`;
    const changes = revoked || !canChangeKeys() ? [] : [
      { text: "Edit", label: `Edit ${name}`, action: () => editKey(key) },
      suspended
        ? { text: "Resume", label: `Resume ${name}`, action: () => resume(key) }
        : { text: "Suspend", label: `Suspend ${name}`, action: () => suspend(key) },
      { text: "Rotate", label: `Rotate ${name}`, action: () => rotate(key), disabled: key.status !== "active" || key.canary },
      { text: "Revoke", label: `Revoke ${name}`, action: () => revoke(key), danger: true },
    ];
    const badges = revoked ? [] : restrictionBadges(key);
    // A rotated key's grace period, or the key's own expiry: whichever comes first.
    const expires = !revoked && key.expires_at
      ? el("span", { class: "expiry", title: formatTime(key.expires_at) },
        el("span", { class: "countdown", "data-expires": key.expires_at }, countdown(key.expires_at)),
        key.status === "expiring" ? el("span", { class: "hint" }, " grace period") : "")
      : "—";
    // What does not fit a row at 1280 pixels goes in its details: the whole label, the
    // restrictions, and the times, each relative with the exact time beside it.
    const fact = (term, ...value) => el("div", {}, el("dt", {}, term), el("dd", {}, ...value));
    const exact = (iso) => (iso ? el("span", { class: "hint" }, ` (${formatTime(iso)})`) : "");
    const details = el("details", { class: "key-details" },
      el("summary", {}, "Details", badges.length ? el("span", { class: "hint" }, ` · ${plural(badges.length, "restriction")}`) : "",
        el("span", { class: "visually-hidden" }, ` for ${name}`)),
      el("dl", { class: "facts" },
        fact("Label", el("span", { class: "full-label" }, key.label)),
        fact("Id", el("code", {}, key.id)),
        fact("Created", timeEl(key.created_at), exact(key.created_at)),
        fact("Last used", timeEl(key.last_used_at), exact(key.last_used_at)),
        ...(key.expires_at ? [fact("Stops working", formatTime(key.expires_at))] : []),
        ...(key.canary_suspends?.length ? [fact("Suspends when used", key.canary_suspends.map((id) => state.keys.find((k) => k.id === id)?.label ?? id).join(", "))] : [])),
      el("div", { class: "restrictions-detail", "data-label": "Restrictions" },
        badges.length ? el("span", { class: "restrictions" }, badges)
          : revoked ? "—" : el("span", { class: "hint", title: "It can do everything its kind allows, from anywhere, at any rate" }, "none")));
    return el("tr", { "data-key-id": key.id, "data-status": key.status, "data-suspended": suspended ? "true" : undefined },
      el("td", { "data-label": "Kind" }, key.kind, key.canary ? el("span", { class: "badge canary", title: "A canary: any use is refused, recorded and alerted" }, "canary") : ""),
      el("td", { "data-label": "Label", class: "label-cell" }, el("span", { class: "label-text", title: key.label }, key.label), details),
      el("td", { "data-label": "Key" }, el("code", {}, key.hint)),
      el("td", { "data-label": "Status" }, el("span", {
        class: `badge ${suspended ? "suspended" : key.status}`,
        title: suspended ? `Suspended ${formatTime(key.suspended_at)}` : undefined,
      }, status)),
      el("td", { "data-label": "Expires" }, expires),
      el("td", { "data-label": "Actions" }, actionMenu(name, [
        { text: "Usage", label: `Usage of ${name}`, action: () => showUsage(key) }, ...changes])));
  });
  $("#keys-table tbody").replaceChildren(...rows);
  if (!rows.length) {
    $("#keys-table tbody").append(el("tr", { class: "empty" }, el("td", { colspan: "6" },
      state.keys.length ? "Every key of this application is revoked: show revoked keys to see them, or create one." : "No keys yet: create one.")));
  }
  renderBanners();
}

// A leak report's URL comes from whoever reported it: only http(s) URLs become links, so
// a `javascript:` or `data:` URL (or anything unparsable) stays text that cannot run here.
function reportedUrl(text) {
  let url = null;
  try { url = new URL(text); } catch { /* not a URL: shown as text */ }
  return url && (url.protocol === "http:" || url.protocol === "https:")
    ? el("a", { href: url.href, rel: "noreferrer" }, text)
    : text;
}

function renderBanners() {
  const banners = [];
  // A canary fired: the strongest signal there is that a hiding place was read.
  for (const entry of state.canaries ?? []) {
    const key = state.keys.find((k) => k.id === entry.key_id);
    const d = entry.detail ?? {};
    const guarded = (key?.canary_suspends ?? []).map((id) => state.keys.find((k) => k.id === id)?.label ?? id);
    banners.push(el("div", { class: "banner danger canary-alert", role: "alert" },
      el("strong", {}, "A canary key was used: someone has it. "),
      `${key ? `${key.label} (${key.hint})` : entry.key_id} was used ${plural(d.count ?? 1, "time")}, most recently ${formatTime(d.last_seen_at ?? entry.at)}`,
      d.last_ip ? ` from ${d.last_ip}` : "", d.last_location ? ` (${d.last_location})` : "",
      d.last_request ? `: ${d.last_request}` : "", d.last_user_agent ? `, with ${d.last_user_agent}` : "", ". ",
      guarded.length ? `It suspended ${guarded.join(", ")}. ` : "",
      "Find where it was planted: that place was read. Rotate what was stored beside it."));
  }
  for (const key of state.keys.filter((k) => k.revocation_reason === "leaked")) {
    const url = state.leaks.find((e) => e.key_id === key.id)?.detail?.url;
    banners.push(el("div", { class: "banner danger", role: "alert" },
      el("strong", {}, "A secret key leaked and was revoked automatically. "),
      `${key.label} (${key.hint}) was found in public`, url ? [" at ", reportedUrl(url), "."] : ".",
      " Rotate any key that may share its exposure."));
  }
  for (const old of state.keys.filter((k) => k.status === "expiring" && k.last_used_at)) {
    const successor = state.keys.find((k) => k.rotated_from === old.id);
    if (successor && Date.parse(old.last_used_at) > Date.parse(successor.created_at)) {
      banners.push(el("div", { class: "banner warning" }, el("strong", {}, "An old key is still in use. "),
        `${old.label} (${old.hint}) was used after it was rotated. Deploy ${successor.hint} before the grace period ends.`));
    }
  }
  // Each exposure entry stands for one key and hour, and counts its requests.
  const refused = state.exposures.reduce((sum, e) => sum + (e.detail?.count ?? 1), 0);
  if (refused) {
    const latest = state.exposures.map((e) => e.detail?.last_seen_at ?? e.at).sort().at(-1);
    banners.push(el("div", { class: "banner danger" }, el("strong", {}, "A secret key was sent from a browser. "),
      `${refused} request${refused === 1 ? " was" : "s were"} refused, most recently ${formatTime(latest)}. The key is probably in client code: revoke and rotate it.`));
  }
  for (const endpoint of state.disabledEndpoints) {
    banners.push(el("div", { class: "banner danger" }, el("strong", {}, "A webhook endpoint is disabled. "),
      endpoint.url, ` failed for too long and has been sent nothing since ${formatTime(endpoint.disabled_at)}. `,
      el("a", { href: `#/apps/${state.app.id}/webhooks` }, "Open the webhooks page"), " to enable it and resend what it missed."));
  }
  const stale = state.keys.filter((k) => k.status === "active" && Date.now() - Date.parse(k.created_at) > 90 * DAY_MS);
  if (stale.length) {
    banners.push(el("div", { class: "banner warning" }, el("strong", {}, "Rotate regularly. "),
      `${stale.length} key(s) are older than 90 days: ${stale.map((k) => k.hint).join(", ")}.`));
  }
  $("#banners").replaceChildren(...banners);
}

// The banners summarise the whole log, whatever the table's filters and paging show.
async function loadBannerEvents() {
  const newest = (event) => api("GET", `${base()}/audit_log?${new URLSearchParams({ limit: "100", event })}`);
  // A failure to list webhook endpoints leaves out their banner only.
  const endpoints = api("GET", `${base()}/webhook_endpoints`).catch(() => ({ endpoints: [] }));
  const [leaks, exposures, canaries, listed] = await Promise.all([newest("key.leaked"), newest("key.secret_in_browser"), newest("key.canary_used"), endpoints]);
  state.leaks = leaks.entries;
  state.canaries = canaries.entries;
  state.exposures = exposures.entries;
  state.disabledEndpoints = listed.endpoints.filter((endpoint) => endpoint.status === "disabled");
}

function auditPath(cursor) {
  const params = new URLSearchParams({ limit: String(AUDIT_PAGE_SIZE) });
  if ($("#audit-key").value) params.set("key_id", $("#audit-key").value);
  if ($("#audit-event").value) params.set("event", $("#audit-event").value);
  if (cursor) params.set("cursor", cursor);
  return `${base()}/audit_log?${params}`;
}

function auditRow(e) {
  const label = (id) => state.keys.find((k) => k.id === id)?.hint ?? id ?? "—";
  // Aggregated events (one entry per key and hour) say how many requests they stand for.
  const count = typeof e.detail?.count === "number"
    ? el("span", { class: "count", title: `${formatTime(e.detail.first_seen_at)} to ${formatTime(e.detail.last_seen_at)}` }, ` ×${e.detail.count}`)
    : "";
  // What changed (field names only: the log never holds their values), or, for a key that
  // only reports unlisted websites, which websites were seen.
  const fields = Array.isArray(e.detail?.fields) && e.detail.fields.length ? e.detail.fields.join(", ") : null;
  const origins = Array.isArray(e.detail?.origins) && e.detail.origins.length ? e.detail.origins.join(", ") : null;
  // Webhook endpoint entries name the endpoint's host (never its whole URL).
  const host = typeof e.detail?.host === "string" && e.detail.host ? e.detail.host : null;
  const about = fields ? el("span", { class: "detail" }, `: ${fields}`)
    : origins ? el("span", { class: "detail" }, ` from ${origins}`)
      : host ? el("span", { class: "detail" }, `: ${host}`) : "";
  // A change's receipt: from when no location accepts the key in its old state.
  const receipt = typeof e.detail?.effective_at === "string"
    ? el("span", { class: "receipt" }, ` · everywhere from ${formatTime(e.detail.effective_at)}`)
    : "";
  return el("tr", { "data-entry-id": e.id },
    el("td", { "data-label": "Time" }, timeEl(e.at)),
    el("td", { "data-label": "Event" }, el("span", {}, e.event, about, count, receipt)),
    el("td", { "data-label": "Key" }, label(e.key_id)),
    // Operator actions name no address or browser: "operator" and "—". A member is named.
    el("td", { "data-label": "By" }, typeof e.actor === "object" ? e.actor.name : e.actor.startsWith("key_") ? label(e.actor) : e.actor),
    el("td", { "data-label": "Client" }, [e.ip, e.user_agent].filter(Boolean).join(" · ") || "—"));
}

function appendAuditPage({ entries, next_cursor }) {
  $("#audit-table tbody").append(...entries.map(auditRow));
  // A last page that is exactly full still comes with a cursor; the page after it is empty.
  state.auditCursor = entries.length ? next_cursor : null;
  $("#audit-more").hidden = !state.auditCursor;
}

// The newest page, after a filter change or an action. Each call starts a new listing, so
// a page that arrives for an earlier one (an older page, or other filters) is dropped
// instead of mixed in.
async function loadAudit() {
  const listing = ++state.auditListing;
  const [page] = await Promise.all([api("GET", auditPath()), loadBannerEvents()]);
  if (listing !== state.auditListing) return;
  $("#audit-table tbody").replaceChildren();
  appendAuditPage(page);
  if (!page.entries.length) {
    $("#audit-table tbody").append(el("tr", { class: "empty" }, el("td", { colspan: "5" }, "No audit entries match these filters.")));
  }
  renderBanners();
}

async function loadOlderAudit() {
  const listing = state.auditListing;
  // Disabled while it loads, so a double click cannot ask for the same page twice.
  $("#audit-more").disabled = true;
  try {
    const page = await api("GET", auditPath(state.auditCursor));
    if (listing === state.auditListing) appendAuditPage(page);
  } finally { $("#audit-more").disabled = false; }
}

$("#audit-filters").addEventListener("change", () => loadAudit().catch((e) => say(e.message)));
$("#audit-more").addEventListener("click", () => loadOlderAudit().catch((e) => say(e.message)));
$("#show-revoked").addEventListener("change", (event) => { state.showRevoked = event.target.checked; renderKeys(); });

// ----- dialogs ---------------------------------------------------------------------------

function ask(dialog) {
  // Firefox and Safari keep the last returnValue when Escape closes a dialog (Chromium
  // clears it): clear it first, or Escape right after a confirmed "revoke" would revoke.
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.showModal();
  });
}

/** Asks before a removal that cannot be undone: `title`, what goes and what follows, and
 *  the button that does it. True when confirmed; Escape and Cancel (the default) say no. */
async function confirmed(title, what, action) {
  $("#confirm-title").textContent = title;
  $("#confirm-what").textContent = what;
  $("#confirm-action").textContent = action;
  return (await ask($("#confirm-dialog"))) === "confirm";
}

// What a session's end must not lose. A form dialog open when the session ends (its own
// submit refused with 401, or any other request's) is closed, so that the sign-in page
// under it can be used, and what was typed in it is held in this page's memory, never in
// storage. Signing in again as the same person, with the same page the first to load,
// opens it again as it was; anything else drops it. Confirmations close as Cancel (nothing
// was typed, and nothing is done without asking again). The dialog that shows a new key
// once stays open over the sign-in page until Done: closing it would lose the key.
// Each dialog that can be held says whether the person signed in may still use it
// (`allowed`: a role can change while signed out), what it edits (`subject`, kept with what
// was typed), how it opens again (`reopen`: false if it should not) and which fields its
// choices show (`showChoices`, once the typed values are back).
const HELD_DIALOGS = {
  "key-dialog": {
    allowed: () => canChangeKeys(),
    subject: () => (keyDialog.key ? { keyId: keyDialog.key.id, keyState: editableState(keyDialog.key) } : {}),
    reopen: (held) => {
      const key = held.keyId ? state.keys.find((k) => k.id === held.keyId) : null;
      // An edit of a key that changed meanwhile is not given back: its old values would
      // undo the other change.
      if (held.keyId && (!key || editableState(key) !== held.keyState)) return false;
      openKeyDialog(key);
      return true;
    },
    showChoices: () => { showKindFields(); showExpiryDate(); },
  },
  "webhook-dialog": {
    allowed: () => canManageWebhooks(),
    subject: () => ({}),
    reopen: () => { $("#add-endpoint").click(); return true; },
    showChoices: () => showEventChoices(),
  },
  "canary-dialog": {
    allowed: () => canChangeKeys(),
    subject: () => ({}),
    reopen: () => { $("#create-canary").click(); return true; },
    showChoices: () => {},
  },
};
let heldDialog = null;

/** A held dialog's own submit worked after all (its answer came after the session ended
 *  under it): giving it back would do the same thing twice. */
function dropHeld(dialogId) {
  if (heldDialog?.dialog === dialogId) heldDialog = null;
}

/** What the key dialog edits of a key, to tell whether it changed. */
const editableState = (key) => JSON.stringify([key.label, policyOf(key), key.policy_expires_at ?? null, key.status, key.suspended_at ?? null]);

/** Who is signed in, as far as giving a held dialog back is concerned. */
const signedInAs = () => `${state.kind}:${state.memberships.map((m) => m.member_id).sort().join(",")}`;

const checkable = (field) => field.type === "checkbox" || field.type === "radio";

function holdOpenDialogs() {
  for (const dialog of document.querySelectorAll("dialog[open]")) {
    if (dialog.id === "reveal-dialog") continue;
    const held = Object.hasOwn(HELD_DIALOGS, dialog.id) ? HELD_DIALOGS[dialog.id] : null;
    if (held && !heldDialog) {
      heldDialog = {
        dialog: dialog.id,
        page: location.hash,
        who: signedInAs(),
        ...held.subject(),
        fields: [...dialog.querySelectorAll("input, select, textarea")]
          .filter((field) => field.id || field.name)
          .map((field) => ({ id: field.id, name: field.name, value: field.value, checked: checkable(field) ? field.checked : null })),
      };
    }
    // What was typed is held in memory only, not left in the closed dialog's fields for
    // whoever uses this tab next (a webhook URL can itself be a secret).
    if (held) dialog.querySelector("form")?.reset();
    dialog.close();
  }
}

/** After a page loads: gives back the dialog held when the session ended, if it is for
 *  this page and this person; either way, nothing stays held. */
function restoreHeldDialog() {
  const held = heldDialog;
  heldDialog = null;
  if (!held || held.page !== location.hash || held.who !== signedInAs()) return;
  const kind = HELD_DIALOGS[held.dialog];
  if (!kind.allowed()) {
    say("Your role no longer allows what you were doing when the session ended, so it was not opened again.");
    return;
  }
  if (!kind.reopen(held)) {
    say("What you were editing changed or is gone while you were signed out, so nothing was changed: open it again to see it as it is now.");
    return;
  }
  const dialog = $(`#${held.dialog}`);
  for (const saved of held.fields) {
    const field = saved.id
      ? dialog.querySelector(`#${CSS.escape(saved.id)}`)
      : saved.checked !== null
        ? dialog.querySelector(`[name="${CSS.escape(saved.name)}"][value="${CSS.escape(saved.value)}"]`)
        : dialog.querySelector(`[name="${CSS.escape(saved.name)}"]`);
    if (!field) continue;
    if (saved.checked !== null) field.checked = saved.checked;
    else field.value = saved.value;
  }
  kind.showChoices();
  say("What you typed before the session ended is back: check it, then submit.");
}

/** Shows secrets once, each `{ name, detail, value }` with a copy button, and advice. */
function revealOnce(title, items, advice) {
  $("#reveal-title").textContent = title;
  $("#reveal-keys").replaceChildren(...items.map(({ name, detail, value }) => {
    const field = el("input", { readonly: true, value, "aria-label": `${name} value`, class: "secret-value", spellcheck: "false" });
    return el("div", { class: "reveal" },
      el("p", {}, el("strong", {}, name), ` · ${detail}`),
      field,
      el("button", { type: "button", onclick: async (event) => {
        try { await navigator.clipboard.writeText(value); event.target.textContent = "Copied"; $("#reveal-status").textContent = `Copied the ${name} value.`; }
        catch { field.select(); event.target.textContent = "Press Ctrl+C"; $("#reveal-status").textContent = "Selected: press Ctrl+C to copy."; }
      } }, "Copy"));
  }));
  $("#reveal-advice").textContent = advice;
  $("#reveal-status").textContent = "";
  $("#reveal-dialog").showModal();
}

function reveal(title, created) {
  revealOnce(title, created.map((key) => ({ name: `${key.kind} key`, detail: key.label, value: key.value })),
    created.some((k) => k.kind === "secret")
      ? "Store secret keys in an environment variable or secret manager on your servers, never in source code or frontend code."
      : "Publishable keys are safe in frontend code.");
}

// The values leave the page as the dialog closes: at once on "Done" (the close event
// comes a moment later), and on Escape.
$("#reveal-dialog form").addEventListener("submit", () => $("#reveal-keys").replaceChildren());
$("#reveal-dialog").addEventListener("close", () => $("#reveal-keys").replaceChildren());

// ----- the key dialog: create a key, or edit one (PATCH) ---------------------------------
//
// The form holds a whole policy; a field left empty means "no restriction". Creating sends
// the restrictions that are set. Editing compares the form with the key as listed and
// sends only what changed: a new value, or null where a restriction was removed.

const EXPIRY_CHOICES = [
  ["in:86400", "In 1 day"], ["in:604800", "In 7 days"], ["in:2592000", "In 30 days"],
  ["in:7776000", "In 90 days"], ["in:31536000", "In 1 year"], ["at", "At a date and time…"],
];
const KIND_HINTS = {
  secret: "For servers only: never put it in frontend code. It can use the management API unless its scopes say otherwise.",
  publishable: "Safe in frontend code. Accepted on frontend routes only, and it can never manage keys.",
};
// Where the API's invalid_policy message ("allowed_ips: …") points, to focus that field.
const FIELD_INPUTS = {
  label: "#key-label", expires_at: "#key-expiry", expires_in_seconds: "#key-expiry",
  scopes: '#key-form input[name="scope"]', routes: "#key-routes", allowed_ips: "#key-ips",
  allowed_origins: "#key-origins", origin_policy: '#key-form input[name="origin-policy"]',
  rate_limit: "#key-rate-requests",
};
const keyDialog = { mode: "create", key: null, busy: false };

/** A mistake found before anything is sent, and the field to fix. */
class FormError extends Error {
  constructor(field, message) { super(message); this.field = field; }
}

/** The entries of a one-per-line field (commas and spaces separate too). */
const entries = (text) => text.split(/[\s,]+/).filter(Boolean);

/** "GET HEAD /v1/orders/*" lines into route rules; null when there are none. */
function parseRoutes(text) {
  const rules = [];
  text.split("\n").forEach((line, index) => {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (!words.length) return;
    const path = words.pop();
    if (!path.startsWith("/")) {
      throw new FormError("routes", `Allowed requests, line ${index + 1}: end the line with a path that starts with /, such as GET /v1/orders/*.`);
    }
    const methods = [];
    for (const word of words.flatMap((w) => w.split(",")).filter(Boolean)) {
      const method = word.toUpperCase();
      if (!METHODS.includes(method)) {
        throw new FormError("routes", `Allowed requests, line ${index + 1}: “${word}” is not a method. Use ${METHODS.join(", ")}, or none for any.`);
      }
      if (!methods.includes(method)) methods.push(method);
    }
    rules.push(methods.length ? { methods, path } : { path });
  });
  return rules.length ? rules : null;
}

/** Route rules in one order, so that equal rules compare equal. */
const sameRoutes = (a, b) => JSON.stringify(a?.map((r) => [METHODS.filter((m) => r.methods?.includes(m)), r.path]) ?? null)
  === JSON.stringify(b?.map((r) => [METHODS.filter((m) => r.methods?.includes(m)), r.path]) ?? null);

/** A listed key's restrictions in the form's terms: null where it has none. */
function policyOf(key) {
  const scopes = key.scopes ? SCOPES.filter((s) => key.scopes.includes(s)) : null;
  return {
    // Every scope restricts nothing: the same as none.
    scopes: scopes && scopes.length < SCOPES.length ? scopes : null,
    routes: key.routes ?? null,
    allowed_ips: key.allowed_ips ?? null,
    allowed_origins: key.allowed_origins ?? null,
    // Enforce is what a list without an origin_policy does.
    origin_policy: key.allowed_origins ? key.origin_policy ?? "enforce" : null,
    rate_limit: key.rate_limit ?? null,
  };
}

const scopeBoxes = () => [...document.querySelectorAll('#key-form input[name="scope"]')];
const originPolicyRadios = () => [...document.querySelectorAll('#key-form input[name="origin-policy"]')];

/** The restrictions the form describes, for a key of `kind`; fields of the other kind are left out. */
function formPolicy(kind) {
  const policy = { scopes: null, routes: null, allowed_ips: null, allowed_origins: null, origin_policy: null, rate_limit: null };
  if (kind === "secret") {
    const scopes = scopeBoxes().filter((box) => box.checked).map((box) => box.value);
    policy.scopes = scopes.length === SCOPES.length ? null : scopes;
    policy.routes = parseRoutes($("#key-routes").value);
    const ips = entries($("#key-ips").value);
    policy.allowed_ips = ips.length ? ips : null;
  } else {
    const origins = entries($("#key-origins").value);
    if (origins.length) {
      policy.allowed_origins = origins;
      policy.origin_policy = originPolicyRadios().find((radio) => radio.checked)?.value ?? "enforce";
    }
  }
  const requests = $("#key-rate-requests").value.trim();
  if (requests !== "" || $("#key-rate-requests").validity.badInput) {
    const n = Number(requests);
    if (!Number.isInteger(n) || n < 1 || n > 1_000_000) {
      throw new FormError("rate_limit", "Rate limit: the maximum is a whole number of requests, from 1 to 1,000,000 (empty for no limit).");
    }
    policy.rate_limit = { requests: n, per_seconds: Number($("#key-rate-window").value) };
  }
  return policy;
}

/** The expiry chosen: keep it, remove it, in so many seconds, or at a time. */
function formExpiry() {
  const choice = $("#key-expiry").value;
  if (choice.startsWith("in:")) return { expires_in_seconds: Number(choice.slice(3)) };
  if (choice === "at") {
    const value = $("#key-expires-at").value;
    const at = value ? new Date(value) : null; // datetime-local: the browser's time zone
    if (!at || Number.isNaN(at.getTime())) throw new FormError("expires_at", "Expires: choose the date and time the key should stop working.");
    return { expires_at: at.toISOString() };
  }
  if (choice === "never" && keyDialog.mode === "edit") return { expires_at: null };
  return {}; // "keep", or "never" for a new key
}

/** The request body, or null when an edit changes nothing. */
function keyRequest() {
  const label = $("#key-label").value;
  if (keyDialog.mode === "create") {
    const kind = $("#key-kind").value;
    const policy = Object.fromEntries(Object.entries(formPolicy(kind)).filter(([, value]) => value !== null));
    return { kind, label, ...formExpiry(), ...policy };
  }
  const key = keyDialog.key;
  const chosen = formPolicy(key.kind);
  const current = policyOf(key);
  const body = {};
  if (label.trim() !== key.label) body.label = label;
  Object.assign(body, formExpiry());
  for (const field of ["scopes", "allowed_ips", "allowed_origins", "rate_limit"]) {
    if (JSON.stringify(chosen[field]) !== JSON.stringify(current[field])) body[field] = chosen[field];
  }
  if (!sameRoutes(chosen.routes, current.routes)) body.routes = chosen.routes;
  // origin_policy needs a list: removing the list removes it too, and a new list says it.
  if (chosen.allowed_origins === null) {
    if (key.origin_policy) body.origin_policy = null;
  } else if (current.allowed_origins === null || chosen.origin_policy !== current.origin_policy) {
    body.origin_policy = chosen.origin_policy;
  }
  return Object.keys(body).length ? body : null;
}

function showKindFields() {
  const kind = $("#key-kind").value;
  for (const node of document.querySelectorAll("#key-form [data-kinds]")) node.hidden = !node.dataset.kinds.split(" ").includes(kind);
  $("#key-kind-hint").textContent = KIND_HINTS[kind];
  // Presets for the other kind only show while the kind can still change.
  const editing = keyDialog.mode === "edit";
  $("#preset-read-only").hidden = editing && kind !== "secret";
  $("#preset-website").hidden = editing && kind !== "publishable";
}

function showExpiryDate() {
  $("#key-expires-at-field").hidden = $("#key-expiry").value !== "at";
}

function setDialogError(message, field) {
  for (const node of document.querySelectorAll('#key-form [aria-invalid="true"]')) node.removeAttribute("aria-invalid");
  $("#key-dialog-error").textContent = message ?? "";
  const target = field && FIELD_INPUTS[field] && document.querySelector(FIELD_INPUTS[field]);
  if (target && !target.closest("[hidden]")) {
    const chosen = field === "expires_at" && $("#key-expiry").value === "at" ? $("#key-expires-at") : target;
    chosen.setAttribute("aria-invalid", "true");
    chosen.focus();
  }
}

/** Fills the form: a blank one for a new key, or `key`'s label and restrictions. */
function fillKeyForm(key) {
  $("#key-form").reset();
  const policy = key ? policyOf(key) : policyOf({});
  $("#key-kind").value = key?.kind ?? "secret";
  $("#key-kind").disabled = Boolean(key);
  $("#key-label").value = key?.label ?? "";
  const expiry = $("#key-expiry");
  // policy_expires_at is the key's own expiry; expires_at may be a rotation's grace end.
  const own = key?.policy_expires_at;
  const keep = key
    ? [["keep", own ? `Keep: expires ${formatTime(own)}` : "Keep: no expiry of its own"]]
    : [];
  const never = !key ? [["never", "Never"]]
    : own ? [["never", key.status === "expiring" ? "Remove its own expiry (its grace period still ends)" : "Never (remove the expiry)"]]
      : [];
  expiry.replaceChildren(...[...keep, ...never, ...EXPIRY_CHOICES].map(([value, text]) => el("option", { value }, text)));
  expiry.value = key ? "keep" : "never";
  for (const box of scopeBoxes()) box.checked = !policy.scopes || policy.scopes.includes(box.value);
  $("#key-routes").value = (policy.routes ?? []).map(routeText).join("\n");
  $("#key-ips").value = (policy.allowed_ips ?? []).join("\n");
  $("#key-origins").value = (policy.allowed_origins ?? []).join("\n");
  for (const radio of originPolicyRadios()) radio.checked = radio.value === (policy.origin_policy ?? "enforce");
  const windows = $("#key-rate-window");
  windows.replaceChildren(...Object.entries(WINDOW_NAMES).map(([seconds, name]) => el("option", { value: seconds }, name)));
  const per = policy.rate_limit?.per_seconds ?? 60;
  if (!WINDOW_NAMES[per]) windows.append(el("option", { value: String(per) }, `${per} seconds`));
  windows.value = String(per);
  $("#key-rate-requests").value = policy.rate_limit ? String(policy.rate_limit.requests) : "";
  $("#preset-note").textContent = "";
  setDialogError("");
  showKindFields();
  showExpiryDate();
}

function openKeyDialog(key = null) {
  keyDialog.mode = key ? "edit" : "create";
  keyDialog.key = key;
  $("#key-dialog-title").textContent = key ? "Edit key" : "Create a key";
  $("#key-dialog-what").hidden = !key;
  $("#key-dialog-what").textContent = key ? `${key.kind} key “${key.label}” (${key.hint})` : "";
  $("#key-dialog-submit").textContent = key ? "Save changes" : "Create";
  fillKeyForm(key);
  $("#key-dialog").showModal();
}

const editKey = (key) => openKeyDialog(key);

$("#create-key").addEventListener("click", () => openKeyDialog());

// ----- canaries ---------------------------------------------------------------------------

$("#create-canary").addEventListener("click", () => {
  $("#canary-label").value = "";
  $("#canary-error").textContent = "";
  // The keys a canary may suspend: this application's live keys that are not canaries.
  const live = state.keys.filter((k) => k.status !== "revoked" && !k.canary);
  $("#canary-suspends").replaceChildren(...(live.length ? live.map((key) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "canary-suspend", value: key.id }),
    `${key.label} (${key.hint})`)) : [el("p", { class: "hint" }, "No live key to name.")]));
  $("#canary-dialog").showModal();
});

$("#canary-cancel").addEventListener("click", () => $("#canary-dialog").close());

$("#canary-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("#canary-confirm");
  if (button.disabled) return;
  const body = { kind: "secret", canary: true };
  const label = $("#canary-label").value.trim();
  if (label) body.label = label;
  const suspends = [...document.querySelectorAll('#canary-suspends input[name="canary-suspend"]:checked')].map((box) => box.value);
  if (suspends.length) body.canary_suspends = suspends;
  button.disabled = true;
  try {
    const { key } = await api("POST", `${base()}/keys`, body);
    dropHeld("canary-dialog");
    $("#canary-dialog").close();
    reveal("Your canary key", [key]);
    $("#reveal-advice").textContent = "Plant it where a thief would look. Nothing of yours may ever use it: any use is refused, recorded and alerted.";
    await Promise.all([loadKeys(), loadAudit()]);
  } catch (error) {
    if (error.status !== 401) $("#canary-error").textContent = error.message;
  } finally { button.disabled = false; }
});
$("#key-kind").addEventListener("change", () => {
  // What was said about the other kind no longer applies.
  $("#preset-note").textContent = "";
  setDialogError("");
  showKindFields();
});
$("#key-expiry").addEventListener("change", showExpiryDate);
$("#key-dialog-cancel").addEventListener("click", () => $("#key-dialog").close());
$("#key-form").addEventListener("input", (event) => event.target.removeAttribute?.("aria-invalid"));

$("#preset-read-only").addEventListener("click", () => {
  if (keyDialog.mode === "create") { $("#key-kind").value = "secret"; showKindFields(); }
  for (const box of scopeBoxes()) box.checked = !WRITE_SCOPES.includes(box.value);
  $("#preset-note").textContent = "Read-only: it can list keys, read usage, read the audit log and list webhook endpoints and their deliveries, and change nothing.";
});

$("#preset-website").addEventListener("click", () => {
  if (keyDialog.mode === "create") { $("#key-kind").value = "publishable"; showKindFields(); }
  for (const radio of originPolicyRadios()) radio.checked = radio.value === "enforce";
  $("#preset-note").textContent = "Type your website's address (its origin, such as https://shop.example) in “Allowed websites”: requests from other websites will be refused.";
  $("#key-origins").focus();
});

$("#preset-rate").addEventListener("click", () => {
  $("#key-rate-requests").value = "100";
  $("#key-rate-window").value = "60";
  $("#preset-note").textContent = "At most 100 requests per minute; past that, 429 rate_limited until the next minute.";
});

$("#key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (keyDialog.busy) return;
  let body;
  try { body = keyRequest(); } catch (error) {
    if (!(error instanceof FormError)) throw error;
    setDialogError(error.message, error.field);
    return;
  }
  setDialogError("");
  const dialog = $("#key-dialog");
  const editing = keyDialog.mode === "edit" ? keyDialog.key : null;
  if (!body) { dialog.close(); say(`Nothing changed for ${editing.hint}.`); return; }
  keyDialog.busy = true;
  $("#key-dialog-submit").disabled = true;
  let saved, effectiveAt;
  try {
    ({ key: saved, effective_at: effectiveAt } = editing
      ? await api("PATCH", `${base()}/keys/${editing.id}`, body)
      : await api("POST", `${base()}/keys`, body));
  } catch (error) {
    // A refusal keeps the dialog open, with everything typed and the API's own words.
    if (error.status === 401) dialog.close(); // signed out: the sign-in view shows
    else setDialogError(error.message, error.code === "invalid_label" ? "label" : /^([a-z_]+):/.exec(error.message)?.[1]);
    return;
  } finally {
    keyDialog.busy = false;
    $("#key-dialog-submit").disabled = false;
  }
  dropHeld("key-dialog");
  dialog.close();
  if (editing) {
    replaceKey(saved);
    say(`Saved ${saved.label} (${saved.hint}): in effect ${everywhereFrom(effectiveAt)}.`);
    await loadAudit().catch((error) => say(error.message));
  } else {
    reveal("Your new key", [saved]);
    await Promise.all([loadKeys(), loadAudit()]).catch((error) => say(error.message));
  }
});

$("#key-dialog").addEventListener("close", () => {
  keyDialog.key = null;
  $("#key-dialog-error").textContent = "";
});

function replaceKey(updated) {
  state.keys = state.keys.map((k) => (k.id === updated.id ? updated : k));
  renderKeys();
  renderAuditKeys();
}

// ----- suspend and resume ----------------------------------------------------------------

let suspending = null;

function suspend(key) {
  suspending = key;
  $("#suspend-what").textContent = `${key.kind} key “${key.label}” (${key.hint})`;
  $("#suspend-error").textContent = "";
  $("#suspend-dialog").showModal();
}

$("#suspend-cancel").addEventListener("click", () => $("#suspend-dialog").close());
$("#suspend-dialog").addEventListener("close", () => { suspending = null; });

$("#suspend-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = suspending;
  const button = $("#suspend-confirm");
  if (!key || button.disabled) return;
  button.disabled = true;
  let updated, suspendedEverywhere;
  try {
    ({ key: updated, effective_at: suspendedEverywhere } = await api("POST", `${base()}/keys/${key.id}/suspend`));
  } catch (error) {
    // 409 last_active_secret_key, say: the dialog stays open with the reason.
    if (error.status === 401) $("#suspend-dialog").close();
    else $("#suspend-error").textContent = error.message;
    return;
  } finally { button.disabled = false; }
  $("#suspend-dialog").close();
  replaceKey(updated);
  say(`Suspended ${updated.label} (${updated.hint}): refused ${everywhereFrom(suspendedEverywhere)} until you resume it.`);
  await loadAudit().catch((error) => say(error.message));
});

async function resume(key) {
  try {
    replaceKey((await api("POST", `${base()}/keys/${key.id}/resume`)).key);
    say(`Resumed ${key.label} (${key.hint}): it works again.`);
    await loadAudit();
  } catch (error) { say(error.message); }
}

async function revoke(key) {
  $("#revoke-what").textContent = `${key.kind} key “${key.label}” (${key.hint})`;
  if (await ask($("#revoke-dialog")) !== "revoke") return;
  try {
    const { key: revoked, effective_at } = await api("POST", `${base()}/keys/${key.id}/revoke`);
    state.keys = state.keys.map((k) => (k.id === revoked.id ? revoked : k));
    state.justRevoked.add(revoked.id);
    renderKeys();
    say(`Revoked ${revoked.hint}: refused ${everywhereFrom(effective_at)}.`);
    await loadAudit();
  } catch (error) { say(error.message); }
}

async function rotate(key) {
  $("#rotate-what").textContent = `${key.kind} key “${key.label}” (${key.hint})`;
  if (await ask($("#rotate-dialog")) !== "rotate") return;
  const grace = Number(new FormData($("#rotate-form")).get("grace"));
  try {
    const result = await api("POST", `${base()}/keys/${key.id}/rotate`, { grace_period_seconds: grace });
    reveal("Your rotated key", [result.key]);
    $("#reveal-advice").textContent += result.previous_key.expires_at
      ? ` The old key ${result.previous_key.hint} keeps working until ${formatTime(result.previous_key.expires_at)}.`
      : ` The old key ${result.previous_key.hint} is refused ${everywhereFrom(result.effective_at)}.`;
    await Promise.all([loadKeys(), loadAudit()]);
  } catch (error) { say(error.message); }
}

async function showUsage(key) {
  const { hours } = await api("GET", `${base()}/keys/${key.id}/usage`);
  const max = Math.max(1, ...hours.map((h) => h.requests));
  const width = 24 * 14, height = 80;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 14}`);
  svg.setAttribute("role", "img");
  const total = hours.reduce((s, h) => s + h.requests, 0);
  svg.setAttribute("aria-label", `${total} requests with ${key.hint} in the last 24 hours`);
  hours.forEach((hour, i) => {
    const h = Math.round((hour.requests / max) * height);
    const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    Object.entries({ x: i * 14 + 2, y: height - h, width: 10, height: Math.max(h, 1), class: "bar" }).forEach(([k, v]) => bar.setAttribute(k, v));
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${formatTime(hour.hour_start)}: ${hour.requests} requests`;
    bar.append(title);
    svg.append(bar);
  });
  $("#usage-title").textContent = `Requests with ${key.label} (${key.hint}), last 24 hours: ${total}`;
  $("#usage-chart").replaceChildren(svg);
  $("#usage-panel").hidden = false;
}

$("#check-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("#check-key").value.trim();
  const out = $("#check-result");
  try {
    const { applicationId, environment } = parsePublishableKey(value);
    const mine = state.app && applicationId === state.app.id;
    out.textContent = `${applicationId} (${environment})${mine ? ": this application." : ": a different application."}`;
  } catch (error) {
    out.textContent = error.code === "secret_key_exposed" ? `Careful: ${error.message}` : error.message;
  } finally {
    $("#check-key").value = "";
  }
});

// ----- webhooks --------------------------------------------------------------------------
//
// The application's endpoints, each with its last 100 delivery attempts. While the page is
// open it refreshes itself: every second for half a minute after an action (a test event,
// a resend), every 5 seconds while an endpoint is failing, otherwise every 15 seconds. A
// card is rebuilt only when what it shows changed, so a refresh neither moves the focus
// nor clears a selection in the cards that stayed the same.

// The events an endpoint can choose (WebhookEventType without webhook.test, which every
// endpoint receives), in the README's words.
const WEBHOOK_EVENTS = [
  ["key.created", "a key is created"],
  ["key.updated", "a key's label or policy changed"],
  ["key.rotated", "a key is rotated"],
  ["key.revoked", "a key is revoked"],
  ["key.expired", "a key's grace period or its own expiry ended"],
  ["key.suspended", "a key is suspended"],
  ["key.resumed", "a key is resumed"],
  ["key.leaked", "a secret scanner found a key in public; it was revoked"],
  ["key.secret_in_browser", "a browser sent a secret key"],
  ["key.grace_period_in_use", "the old key of a rotation is still used"],
  ["key.expiring_soon", "a key expires in 7 days, then in 1 day"],
  ["key.rate_limited", "requests past a key's rate limit were refused"],
  ["key.origin_not_allowed", "a publishable key was used from a website its policy does not list"],
  ["key.canary_used", "a canary key was used: proof it was stolen; the keys it guards were suspended"],
  ["key.canary_leaked", "a secret scanner found a canary key in public (it stays armed)"],
  ["key.secret_outside_authorization", "a secret key was sent outside Authorization (a cookie, the query, the path): logs may hold it"],
];
const DELIVERY_ERRORS = {
  timeout: "The endpoint did not answer in time.",
  connection_failed: "The endpoint could not be reached.",
  redirect_not_followed: "The endpoint answered with a redirect, which is not followed: messages go to the URL registered.",
  endpoint_queue_full: "Not sent: 10,000 messages were already waiting for this endpoint. Resend it once the endpoint recovers.",
};
// Where the API's refusal of a new endpoint points, to focus that field.
const WEBHOOK_FIELDS = {
  invalid_webhook_url: "#webhook-url", invalid_description: "#webhook-description",
  invalid_webhook_events: '#webhook-form input[name="webhook-events-mode"]:checked',
};
const webhooks = {
  appId: null, endpoints: [], deliveries: new Map(), notes: new Map(), listing: 0, fastUntil: 0, timer: null,
  signatures: new WeakMap(), busy: false,
};

const webhooksOpen = () => !$("#app-view").hidden && !$("#webhooks-panel").hidden && webhooks.appId === state.app?.id;
const endpointPath = (endpoint) => `/v1/applications/${webhooks.appId}/webhook_endpoints/${endpoint.id}`;

async function openWebhooks() {
  if (webhooks.appId !== state.app.id) {
    Object.assign(webhooks, { appId: state.app.id, endpoints: [], deliveries: new Map(), notes: new Map(), fastUntil: 0 });
    $("#webhook-endpoints").replaceChildren(el("p", { class: "hint" }, "Loading…"));
    $("#webhooks-updated").textContent = "";
  }
  try {
    await loadWebhooks();
  } catch (error) {
    if (error.status !== 401 && !webhooks.endpoints.length) {
      $("#webhook-endpoints").replaceChildren(el("p", { class: "error" }, `The endpoints could not be listed: ${error.message}`));
    }
    if (error.status !== 401) say(error.message);
  } finally { scheduleWebhookRefresh(); }
}

/** The endpoints and every endpoint's deliveries. A listing overtaken by a newer one is dropped. */
async function loadWebhooks() {
  const listing = ++webhooks.listing;
  const { appId } = webhooks;
  const { endpoints } = await api("GET", `/v1/applications/${appId}/webhook_endpoints`);
  const deliveries = await Promise.all(endpoints.map((endpoint) =>
    api("GET", `/v1/applications/${appId}/webhook_endpoints/${endpoint.id}/deliveries`)
      .then((answer) => answer.deliveries, (error) => ({ error: error.message }))));
  if (listing !== webhooks.listing || appId !== webhooks.appId) return;
  webhooks.endpoints = endpoints;
  webhooks.deliveries = new Map(endpoints.map((endpoint, i) => [endpoint.id, deliveries[i]]));
  $("#webhooks-updated").textContent = `${plural(endpoints.length, "endpoint")} of at most 10 · updated ${new Date().toLocaleTimeString()}`;
  renderWebhooks();
}

function refreshFailed(error) {
  if (error.status !== 401) $("#webhooks-updated").textContent = `Could not refresh: ${error.message}`;
}

function scheduleWebhookRefresh() {
  clearTimeout(webhooks.timer);
  if (!webhooksOpen()) return;
  const failing = webhooks.endpoints.some((endpoint) => endpoint.status === "enabled" && endpoint.failing_since);
  const delay = Date.now() < webhooks.fastUntil ? 1000 : failing ? 5000 : 15000;
  webhooks.timer = setTimeout(async () => {
    if (!webhooksOpen()) return;
    if (document.visibilityState !== "hidden") await loadWebhooks().catch(refreshFailed);
    scheduleWebhookRefresh();
  }, delay);
}

/** After an action: look again at once, then every second for half a minute. */
function watchWebhooks() {
  webhooks.fastUntil = Date.now() + 30_000;
  loadWebhooks().catch(refreshFailed).finally(scheduleWebhookRefresh);
}

function renderWebhooks() {
  const container = $("#webhook-endpoints");
  if (!webhooks.endpoints.length) {
    container.replaceChildren(el("p", { class: "card hint" }, "No endpoints yet. Add one to receive this application's key events."));
    return;
  }
  const focused = document.activeElement?.dataset?.focusKey;
  const before = [...container.children];
  const cards = webhooks.endpoints.map((endpoint) => {
    const deliveries = webhooks.deliveries.get(endpoint.id);
    const note = webhooks.notes.get(endpoint.id);
    const signature = JSON.stringify([endpoint, deliveries, note]);
    const old = before.find((card) => card.dataset.endpointId === endpoint.id);
    if (old && webhooks.signatures.get(old) === signature) return old;
    const card = endpointCard(endpoint, deliveries, note);
    webhooks.signatures.set(card, signature);
    return card;
  });
  const sameOrder = cards.length === before.length && cards.every((card, i) => card.dataset.endpointId === before[i].dataset.endpointId);
  if (sameOrder) cards.forEach((card, i) => { if (before[i] !== card) before[i].replaceWith(card); });
  else container.replaceChildren(...cards);
  // A button that was rebuilt gets the focus back.
  if (focused && !container.contains(document.activeElement)) {
    container.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
  }
}

function endpointCard(endpoint, deliveries, note) {
  const disabled = endpoint.status === "disabled";
  const { url } = endpoint;
  const headingId = `endpoint-${endpoint.id}`;
  const button = (text, key, attributes, action) => el("button", {
    type: "button", "data-focus-key": `${key}:${endpoint.id}`, ...attributes,
    onclick: (event) => busyWhile(event.currentTarget, action),
  }, text);
  const facts = [
    ["Events", endpoint.events.includes("*") ? "All events, including future ones" : endpoint.events.join(", ")],
    ["Created", formatTime(endpoint.created_at)],
  ];
  if (endpoint.previous_secret_expires_at) {
    facts.push(["Previous secret", `also signs every message until ${formatTime(endpoint.previous_secret_expires_at)}`]);
  }
  let alert = "";
  if (disabled) {
    alert = el("div", { class: "banner danger" }, el("strong", {}, "Disabled: nothing is sent to this endpoint. "),
      `It failed for too long without a single success and was disabled ${formatTime(endpoint.disabled_at)}; its waiting messages were marked failed. `,
      "Fix the receiver, enable the endpoint, then resend the messages it missed.");
  } else if (endpoint.failing_since) {
    alert = el("div", { class: "banner warning" }, el("strong", {}, `Failing since ${formatTime(endpoint.failing_since)}. `),
      "Messages are retried with growing waits; an endpoint that keeps failing without a single success (for 3 days, by default) is disabled.");
  }
  return el("article", { class: `card endpoint${disabled ? " disabled" : ""}`, "data-endpoint-id": endpoint.id, "data-status": endpoint.status, "aria-labelledby": headingId },
    el("div", { class: "endpoint-head" },
      el("h3", { id: headingId, class: "endpoint-url" }, url),
      el("span", { class: `badge ${disabled ? "suspended" : "active"}` }, disabled ? "disabled" : "enabled")),
    endpoint.description ? el("p", { class: "endpoint-description" }, endpoint.description) : "",
    alert,
    el("dl", { class: "facts" }, facts.map(([name, value]) => el("div", {}, el("dt", {}, name), el("dd", {}, value)))),
    !canManageWebhooks() ? "" : el("div", { class: "row-actions" },
      disabled ? button("Enable", "enable", { class: "primary", "aria-label": `Enable ${url}` }, () => enableEndpoint(endpoint)) : "",
      button("Send test event", "test", { "aria-label": `Send test event to ${url}` }, () => sendTestEvent(endpoint)),
      button("Rotate secret", "rotate", { "aria-label": `Rotate secret of ${url}` }, () => rotateEndpointSecret(endpoint)),
      button("Delete", "delete", { class: "danger", "aria-label": `Delete ${url}` }, () => deleteEndpoint(endpoint))),
    el("p", { class: `endpoint-note${note?.error ? " error" : ""}` }, note?.text ?? ""),
    deliveriesTable(endpoint, deliveries));
}

function deliveriesTable(endpoint, deliveries) {
  if (!Array.isArray(deliveries)) return el("p", { class: "error" }, `The deliveries could not be listed: ${deliveries?.error ?? "no answer"}`);
  if (!deliveries.length) return el("p", { class: "hint" }, "No deliveries yet. Send a test event to check the endpoint.");
  const columns = ["Time", "Event", "Message", "Attempt", "Result", "Latency", "Delivered", "Actions"];
  return el("div", { class: "table-wrap" }, el("table", { class: "deliveries" },
    el("caption", {}, `Recent deliveries, newest first (${deliveries.length}${deliveries.length === 100 ? ", the most kept" : ""})`),
    el("thead", {}, el("tr", {}, columns.map((name) => el("th", { scope: "col" }, name)))),
    el("tbody", {}, deliveries.map((delivery) => deliveryRow(endpoint, delivery)))));
}

function deliveryRow(endpoint, d) {
  const result = d.error
    ? el("span", { class: "delivery-error", title: DELIVERY_ERRORS[d.error] ?? d.error }, d.status ? `${d.status} ${d.error}` : d.error)
    : String(d.status ?? "—");
  return el("tr", { "data-message-id": d.message_id, "data-attempt": String(d.attempt), "data-delivered": String(d.delivered) },
    el("td", { "data-label": "Time" }, el("time", { datetime: d.at, title: d.at }, formatMoment(d.at))),
    el("td", { "data-label": "Event" }, d.event),
    el("td", { "data-label": "Message" }, el("code", {}, d.message_id)),
    el("td", { "data-label": "Attempt" }, d.attempt === 0 ? "not sent" : String(d.attempt)),
    el("td", { "data-label": "Result" }, result),
    el("td", { "data-label": "Latency" }, d.attempt === 0 ? "—" : `${d.latency_ms.toLocaleString("en-US")} ms`),
    el("td", { "data-label": "Delivered" }, el("span", { class: `badge ${d.delivered ? "active" : "suspended"}` }, d.delivered ? "yes" : "no")),
    el("td", { "data-label": "Actions" }, el("button", {
      type: "button", "data-focus-key": `resend:${endpoint.id}:${d.message_id}:${d.attempt}`,
      "aria-label": `Resend ${d.message_id}`, onclick: (event) => busyWhile(event.currentTarget, () => resendMessage(endpoint, d.message_id)),
    }, "Resend")));
}

/** Disables `button` while `action` runs, so a double click does not do it twice. */
async function busyWhile(button, action) {
  if (button.disabled) return;
  button.disabled = true;
  try { await action(); } finally { button.disabled = false; }
}

/** What happened to an endpoint, on its card and in the status line. */
function noteOn(endpoint, text, error = false) {
  webhooks.notes.set(endpoint.id, { text, error });
  say(`${endpoint.url}: ${text}`);
  renderWebhooks();
}

/** Runs an endpoint's action; a refusal is said on its card, in the API's words. */
async function endpointAction(endpoint, action) {
  try {
    await action();
  } catch (error) {
    if (error.status === 401) return; // signed out: the sign-in view shows
    noteOn(endpoint, error.message, true);
    // Disabled, enabled or deleted meanwhile: show it as it is now.
    if (error.status === 404 || error.status === 409) watchWebhooks();
  }
}

const sendTestEvent = (endpoint) => endpointAction(endpoint, async () => {
  const { message_id: id } = await api("POST", `${endpointPath(endpoint)}/test`);
  noteOn(endpoint, `Test event queued as ${id}: its delivery attempts appear below.`);
  watchWebhooks();
});

const resendMessage = (endpoint, messageId) => endpointAction(endpoint, async () => {
  const { message_id: id } = await api("POST", `${endpointPath(endpoint)}/messages/${encodeURIComponent(messageId)}/resend`);
  noteOn(endpoint, `Resending ${id}, with the same webhook-id: a receiver that already handled it can ignore it.`);
  watchWebhooks();
});

const enableEndpoint = (endpoint) => endpointAction(endpoint, async () => {
  const { endpoint: enabled } = await api("POST", `${endpointPath(endpoint)}/enable`);
  webhooks.endpoints = webhooks.endpoints.map((e) => (e.id === enabled.id ? enabled : e));
  noteOn(enabled, "Enabled: new events are sent to it again. Messages that failed while it was disabled are not sent by themselves: resend those it needs.");
  watchWebhooks();
});

const rotateEndpointSecret = (endpoint) => endpointAction(endpoint, async () => {
  $("#webhook-rotate-what").textContent = endpoint.url;
  if (await ask($("#webhook-rotate-dialog")) !== "rotate") return;
  const { endpoint: rotated, secret } = await api("POST", `${endpointPath(endpoint)}/rotate_secret`);
  const until = formatTime(rotated.previous_secret_expires_at);
  revealOnce("The endpoint's new signing secret", [{ name: "Signing secret", detail: rotated.url, value: secret }],
    `Until ${until} (24 hours), every message is signed with both the new and the previous secret, so the receiver keeps verifying with either: deploy the new secret to it before then. After that, only the new one signs.`);
  webhooks.endpoints = webhooks.endpoints.map((e) => (e.id === rotated.id ? rotated : e));
  noteOn(rotated, `Secret rotated: the previous one also signs until ${until}.`);
});

const deleteEndpoint = (endpoint) => endpointAction(endpoint, async () => {
  $("#webhook-delete-what").textContent = endpoint.url;
  if (await ask($("#webhook-delete-dialog")) !== "delete") return;
  await api("DELETE", endpointPath(endpoint));
  webhooks.notes.delete(endpoint.id);
  webhooks.endpoints = webhooks.endpoints.filter((e) => e.id !== endpoint.id);
  renderWebhooks();
  say(`Deleted the webhook endpoint ${endpoint.url}.`);
  await loadWebhooks().catch(refreshFailed);
});

$("#refresh-webhooks").addEventListener("click", (event) => busyWhile(event.currentTarget,
  () => loadWebhooks().catch(refreshFailed).finally(scheduleWebhookRefresh)));

// ----- adding an endpoint ----------------------------------------------------------------

// Each box is labelled by the event's name; what it means describes it.
$("#webhook-event-choices").replaceChildren(...WEBHOOK_EVENTS.map(([name, what]) => {
  const id = `webhook-event-${name.replace(".", "-")}`;
  return el("div", { class: "event-choice" },
    el("label", { class: "check" },
      el("input", { type: "checkbox", name: "webhook-event", value: name, "aria-describedby": `${id}-what` }), el("code", {}, name)),
    el("span", { class: "hint", id: `${id}-what` }, what));
}));

const eventsMode = () => document.querySelector('#webhook-form input[name="webhook-events-mode"]:checked')?.value ?? "all";
const eventBoxes = () => [...document.querySelectorAll('#webhook-form input[name="webhook-event"]')];

function showEventChoices() {
  $("#webhook-event-choices").hidden = eventsMode() !== "chosen";
}

function setWebhookError(message, selector) {
  for (const node of document.querySelectorAll('#webhook-form [aria-invalid="true"]')) node.removeAttribute("aria-invalid");
  $("#webhook-dialog-error").textContent = message ?? "";
  const target = selector && document.querySelector(selector);
  if (target) {
    target.setAttribute("aria-invalid", "true");
    target.focus();
  }
}

$("#add-endpoint").addEventListener("click", () => {
  $("#webhook-form").reset();
  showEventChoices();
  setWebhookError("");
  $("#webhook-dialog").showModal();
});
$("#webhook-dialog-cancel").addEventListener("click", () => $("#webhook-dialog").close());
$("#webhook-form").addEventListener("change", (event) => {
  if (event.target.name === "webhook-events-mode") showEventChoices();
});
$("#webhook-form").addEventListener("input", (event) => event.target.removeAttribute?.("aria-invalid"));

$("#webhook-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (webhooks.busy) return;
  const url = $("#webhook-url").value.trim();
  if (!url) { setWebhookError("Endpoint URL: type the address to send the messages to, such as https://hooks.example.com/aero2.", "#webhook-url"); return; }
  const body = { url };
  const description = $("#webhook-description").value.trim();
  if (description) body.description = description;
  // All events: no list, so that events added later come too.
  if (eventsMode() === "chosen") {
    body.events = eventBoxes().filter((box) => box.checked).map((box) => box.value);
    if (!body.events.length) { setWebhookError("Events: choose at least one, or All events.", '#webhook-form input[name="webhook-event"]'); return; }
  }
  setWebhookError("");
  const dialog = $("#webhook-dialog");
  webhooks.busy = true;
  $("#webhook-dialog-submit").disabled = true;
  let created;
  try {
    created = await api("POST", `/v1/applications/${webhooks.appId}/webhook_endpoints`, body);
  } catch (error) {
    // A refusal keeps the dialog open, with everything typed and the API's own words.
    if (error.status === 401) dialog.close();
    else setWebhookError(error.message, WEBHOOK_FIELDS[error.code]);
    return;
  } finally {
    webhooks.busy = false;
    $("#webhook-dialog-submit").disabled = false;
  }
  dropHeld("webhook-dialog");
  dialog.close();
  const { endpoint, secret } = created;
  revealOnce("Your endpoint's signing secret", [{ name: "Signing secret", detail: endpoint.url, value: secret }],
    "Give it to the receiver, for example as the environment variable AERO2_WEBHOOK_SECRET: a Standard Webhooks library verifies each message's webhook-signature with it. If it is lost, rotate the secret.");
  webhooks.endpoints = [...webhooks.endpoints.filter((e) => e.id !== endpoint.id), endpoint];
  webhooks.deliveries.set(endpoint.id, []);
  noteOn(endpoint, "Added. Send a test event to check that the receiver verifies its messages.");
  await loadWebhooks().catch(refreshFailed);
});

// ----- people: sessions, passkeys, accounts and members ------------------------------------

const ROLES = ["viewer", "developer", "admin", "owner"];
const rank = (role) => ROLES.indexOf(role);

/**
 * Whether `role` may do `action` (the table of crates/accounts/src/roles.rs, which the API
 * applies): it only decides which buttons work here. `environment` is the application's.
 */
function may(role, action, environment) {
  if (!role) return false;
  switch (action) {
    case "change_keys": return rank(role) >= rank(environment === "development" ? "developer" : "admin");
    case "webhooks":
    case "create_application": return rank(role) >= rank("admin");
    case "invite": return rank(role) >= rank("admin");
    default: return false;
  }
}

const currentMembership = () => state.memberships.find((m) => m.account_id === state.accountId);
const roleHere = () => (state.kind === "member" ? currentMembership()?.role : "operator");
const canChangeKeys = () => state.kind !== "member" || may(roleHere(), "change_keys", state.app?.environment);
const canManageWebhooks = () => state.kind !== "member" || may(roleHere(), "webhooks");

/** Who is signed in: the session's CSRF token, and a member's accounts. */
async function loadSession() {
  const session = await request("GET", "/v1/dashboard/session");
  state.csrf = session.csrf;
  state.sessionEnded = false;
  state.kind = session.kind;
  state.memberships = session.memberships ?? [];
  // Another person in this tab: what the last one typed is dropped now, not at the next
  // page load (which may fail, and leave it in memory).
  if (heldDialog && heldDialog.who !== signedInAs()) heldDialog = null;
  const remembered = localStorage.getItem("aero2.account");
  state.accountId = state.memberships.some((m) => m.account_id === remembered) ? remembered : state.memberships[0]?.account_id ?? null;
  renderNav();
}

function renderNav() {
  const member = state.kind === "member";
  for (const id of ["#nav-members", "#nav-account-log", "#nav-passkeys"]) $(id).hidden = !member;
  const switcher = $("#account-switcher");
  switcher.hidden = !member || state.memberships.length < 2;
  switcher.replaceChildren(...state.memberships.map((m) => el("option", { value: m.account_id }, `${m.account_name} (${m.role})`)));
  if (state.accountId) switcher.value = state.accountId;
  const here = currentMembership();
  $("#who").textContent = member ? `${here?.name ?? ""} · ${here?.account_name ?? ""}, ${here?.role ?? ""}` : "Platform operator";
}

$("#account-switcher").addEventListener("change", () => {
  state.accountId = $("#account-switcher").value;
  localStorage.setItem("aero2.account", state.accountId);
  renderNav();
  if (location.hash === "#/" || location.hash === "") route(); else location.hash = "#/";
});

const passkeysWork = () => Boolean(window.PublicKeyCredential?.parseCreationOptionsFromJSON && navigator.credentials);

/** navigator.credentials.create with the API's creation options; the credential as JSON. */
async function createPasskey(options) {
  const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey) });
  return credential.toJSON();
}

/** navigator.credentials.get with the API's request options; the assertion as JSON. */
async function usePasskey(options) {
  const credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey) });
  return credential.toJSON();
}

/** What to say when a ceremony fails in the browser or at the API. */
function passkeyProblem(error) {
  if (error.name === "NotAllowedError") return "The passkey was not used (cancelled, or it timed out). Try again.";
  if (error.code === "too_many_sign_in_attempts") return `Too many attempts from this address. Wait ${error.retryAfter ?? 60} seconds, then try again.`;
  return error.message;
}

$("#passkey-sign-in").addEventListener("click", async () => {
  $("#passkey-error").textContent = "";
  if (!passkeysWork()) { $("#passkey-error").textContent = "This browser cannot use passkeys here."; return; }
  try {
    const options = await request("POST", "/v1/passkeys/authentication/options");
    const credential = await usePasskey(options);
    const answer = await request("POST", "/v1/passkeys/authentication", { credential });
    state.csrf = answer.csrf_token;
    await loadSession();
    say("");
    await route();
  } catch (error) { $("#passkey-error").textContent = passkeyProblem(error); }
});

/** Confirms the session with a passkey (step-up): actions that cannot be undone need one in the last 5 minutes. */
async function stepUp() {
  const options = await request("POST", "/v1/passkeys/authentication/options");
  const credential = await usePasskey(options);
  await request("POST", "/v1/passkeys/authentication", { credential });
}

// ----- joining with an invitation -----------------------------------------------------------

function showJoin(token) {
  show("join-view");
  $("#join-error").textContent = passkeysWork() ? "" : "This browser cannot make passkeys: open the link in a current browser.";
  $("#join-form").dataset.token = token;
  $("#join-name").focus();
}

$("#join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("#join-form").dataset.token;
  $("#join-error").textContent = "";
  try {
    const options = await request("POST", `/v1/invitations/${token}/registration/options`);
    const credential = await createPasskey(options);
    const answer = await request("POST", `/v1/invitations/${token}/registration`, { credential, name: $("#join-name").value });
    state.csrf = answer.csrf_token;
    // The link is spent: it leaves the address bar and the history.
    history.replaceState(null, "", "#/");
    await loadSession();
    say(`Welcome, ${answer.member.name}: you joined as ${answer.member.role}.`);
    await route();
  } catch (error) {
    $("#join-error").textContent = error.code === "invitation_not_found"
      ? "This invitation cannot be used: it was used already, revoked, or it expired. Ask for a new one."
      : passkeyProblem(error);
  }
});

// ----- members and invitations ---------------------------------------------------------------

const accountPath = () => `/v1/accounts/${state.accountId}`;

async function showMembers() {
  show("members-view");
  // An invitation's link is shown once: leaving the page (or refreshing it) hides it.
  $("#invite-result").hidden = true;
  const mine = currentMembership();
  $("#members-title").textContent = `Members of ${mine?.account_name ?? "the account"}`;
  const [{ members }, { invitations }] = await Promise.all([api("GET", `${accountPath()}/members`), api("GET", `${accountPath()}/invitations`)]);
  const manager = may(mine?.role, "invite");
  $("#members-table tbody").replaceChildren(...members.map((member) => {
    const me = member.id === mine?.member_id;
    const changeable = manager && rank(member.role) <= rank(mine.role);
    const roleCell = changeable
      ? el("select", { "aria-label": `Role of ${member.name}`, "data-member-id": member.id },
        ROLES.filter((r) => rank(r) <= rank(mine.role)).map((r) => el("option", { value: r, selected: r === member.role }, r)))
      : el("span", { class: "badge policy" }, member.role);
    if (changeable) roleCell.addEventListener("change", () => changeRole(member, roleCell));
    const remove = (manager && rank(member.role) <= rank(mine.role)) || me
      ? el("button", { type: "button", class: "danger", onclick: () => removeMember(member, me), "aria-label": me ? "Leave the account" : `Remove ${member.name}` }, me ? "Leave" : "Remove")
      : "—";
    return el("tr", { "data-member-id": member.id },
      el("td", { "data-label": "Name" }, member.name, me ? el("span", { class: "badge active" }, "you") : ""),
      el("td", { "data-label": "Role" }, roleCell),
      el("td", { "data-label": "Joined" }, formatTime(member.joined_at)),
      el("td", { "data-label": "Actions" }, remove));
  }));
  $("#invite-form").hidden = !manager;
  $("#invite-role").replaceChildren(...ROLES.filter((r) => manager && (r !== "owner" || mine.role === "owner")).map((r) => el("option", { value: r }, r)));
  $("#invitations-table tbody").replaceChildren(...(invitations.length ? invitations.map((invitation) => el("tr", {},
    el("td", { "data-label": "Role" }, invitation.role),
    el("td", { "data-label": "Name" }, invitation.name ?? "—"),
    el("td", { "data-label": "Expires" }, formatTime(invitation.expires_at)),
    el("td", { "data-label": "Actions" }, manager ? el("button", { type: "button", class: "danger", onclick: () => revokeInvitation(invitation), "aria-label": `Revoke the ${invitation.role} invitation` }, "Revoke") : "—")))
    : [el("tr", {}, el("td", { colspan: 4, class: "hint" }, "None."))]));
}

async function changeRole(member, select) {
  try {
    await api("PATCH", `${accountPath()}/members/${member.id}`, { role: select.value });
    say(`${member.name} is now ${select.value}.`);
    await loadSession();
  } catch (error) { say(error.message); }
  await showMembers().catch((error) => say(error.message));
}

async function removeMember(member, me) {
  const asked = me
    ? await confirmed("Leave the account?", "You lose access to its applications at once, and your sessions in it end. Only an admin or owner can invite you again.", "Leave the account")
    : await confirmed(`Remove ${member.name}?`, `${member.name} (${member.role}) loses access to this account's applications at once; their sessions in it end.`, `Remove ${member.name}`);
  if (!asked) return;
  try {
    await api("DELETE", `${accountPath()}/members/${member.id}`);
    say(me ? "You left the account." : `${member.name} was removed; their sessions in this account have ended.`);
  } catch (error) { say(error.message); return; }
  if (me) { state.csrf = null; await route(); return; }
  await showMembers().catch((error) => say(error.message));
}

async function revokeInvitation(invitation) {
  if (!await confirmed("Revoke this invitation?", `The ${invitation.role} invitation's link stops working; whoever holds it can no longer join.`, "Revoke invitation")) return;
  try {
    await api("DELETE", `${accountPath()}/invitations/${invitation.id}`);
    say("Invitation revoked: its link no longer works.");
  } catch (error) { say(error.message); }
  await showMembers().catch((error) => say(error.message));
}

$("#invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#invite-error").textContent = "";
  $("#invite-result").hidden = true;
  const body = { role: $("#invite-role").value };
  const name = $("#invite-name").value.trim();
  if (name) body.name = name;
  try {
    const created = await api("POST", `${accountPath()}/invitations`, body);
    $("#invite-name").value = "";
    await showMembers();
    $("#invite-link").textContent = created.url ?? created.token;
    $("#invite-result").hidden = false;
  } catch (error) { $("#invite-error").textContent = error.message; }
});

$("#invite-copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("#invite-link").textContent);
    say("Link copied.");
  } catch { say("Select the link and copy it."); }
});

// ----- the person's passkeys -------------------------------------------------------------------

async function showPasskeys() {
  show("passkeys-view");
  renderPasskeys((await api("GET", "/v1/passkeys")).passkeys);
}

function renderPasskeys(passkeys) {
  $("#passkeys-table tbody").replaceChildren(...passkeys.map((passkey) => {
    const name = el("input", { value: passkey.name, maxlength: 64, "aria-label": `Name of the passkey ${passkey.name}` });
    return el("tr", { "data-passkey-id": passkey.id },
      el("td", { "data-label": "Name" }, name),
      el("td", { "data-label": "Created" }, formatTime(passkey.created_at)),
      el("td", { "data-label": "Last used" }, formatTime(passkey.last_used_at)),
      el("td", { "data-label": "Synced" }, passkey.backed_up ? "yes" : "no"),
      el("td", { "data-label": "Actions" }, el("div", { class: "row-actions" },
        el("button", { type: "button", onclick: () => renamePasskey(passkey, name.value), "aria-label": `Rename ${passkey.name}` }, "Rename"),
        el("button", { type: "button", class: "danger", disabled: passkeys.length === 1, title: passkeys.length === 1 ? "Your last passkey: add another first" : undefined,
          onclick: () => removePasskey(passkey), "aria-label": `Remove ${passkey.name}` }, "Remove"))));
  }));
}

async function renamePasskey(passkey, name) {
  try {
    renderPasskeys((await api("PATCH", `/v1/passkeys/${passkey.id}`, { name })).passkeys);
    say("Renamed.");
  } catch (error) { say(error.message); }
}

async function removePasskey(passkey) {
  if (!await confirmed(`Remove ${passkey.name}?`, `${passkey.name} can no longer sign you in. Your other passkeys still can.`, `Remove ${passkey.name}`)) return;
  try {
    renderPasskeys((await api("DELETE", `/v1/passkeys/${passkey.id}`)).passkeys);
    say(`Removed ${passkey.name}: it signs in no more.`);
  } catch (error) { say(error.message); }
}

$("#add-passkey").addEventListener("click", async () => {
  try {
    const options = await api("POST", "/v1/passkeys/registration/options");
    const credential = await createPasskey(options);
    await api("POST", "/v1/passkeys/registration", { credential });
    say("Passkey added.");
    await showPasskeys();
  } catch (error) { say(passkeyProblem(error)); }
});

// ----- the account's audit log -----------------------------------------------------------------

async function showAccountLog(more = false) {
  show("account-log-view");
  const cursor = more && state.accountLogCursor ? `&cursor=${state.accountLogCursor}` : "";
  const { entries, next_cursor: next } = await api("GET", `${accountPath()}/audit_log?limit=50${cursor}`);
  const rows = entries.map((entry) => el("tr", {},
    el("td", { "data-label": "Time" }, formatMoment(entry.at)),
    el("td", { "data-label": "Event" }, el("code", {}, entry.event)),
    el("td", { "data-label": "By" }, typeof entry.actor === "string" ? entry.actor : entry.actor.name),
    el("td", { "data-label": "Client", class: "user-agent" }, [entry.ip, entry.user_agent].filter(Boolean).join(" · ") || "—"),
    el("td", { "data-label": "Detail" }, el("code", {}, JSON.stringify(entry.detail)))));
  if (more) $("#account-log-table tbody").append(...rows);
  else $("#account-log-table tbody").replaceChildren(...rows);
  state.accountLogCursor = next;
  $("#account-log-more").hidden = !next;
}

$("#account-log-more").addEventListener("click", () => showAccountLog(true).catch((error) => say(error.message)));

// ----- routing ---------------------------------------------------------------------------

async function route() {
  // An invitation's link carries its token in the fragment: it never reaches a server log.
  const invitation = /^#invitation=([0-9A-Za-z]+)$/.exec(location.hash);
  if (invitation) { showJoin(invitation[1]); return; }
  try {
    if (!state.csrf) await loadSession();
  } catch { showSignIn(); return; }
  const match = /^#\/apps\/(app_[0-9A-Za-z]{16})(\/webhooks)?$/.exec(location.hash);
  const member = state.kind === "member";
  await loadPage(() => {
    if (location.hash === "#/sessions") return showSessions();
    if (member && location.hash === "#/members") return showMembers();
    if (member && location.hash === "#/passkeys") return showPasskeys();
    if (member && location.hash === "#/account-log") return showAccountLog();
    if (match) return showApp(match[1], match[2] ? "webhooks" : "keys");
    return showApps();
  });
}

// Every page's loading and error states, in one place. "Loading…" appears only when the
// answer takes a moment (a flash on every click would be noise); a page that could not be
// loaded says so, with a Retry button, and the status line announces it. A 401 has its own
// answer: the sign-in page.
const LOADING_DELAY_MS = 300;
let pageLoads = 0;
async function loadPage(load) {
  const pageState = $("#page-state");
  const thisLoad = ++pageLoads;
  const slow = setTimeout(() => {
    pageState.replaceChildren(el("p", { class: "hint" }, "Loading…"));
    pageState.hidden = false;
  }, LOADING_DELAY_MS);
  try {
    await load();
    if (thisLoad === pageLoads) {
      pageState.hidden = true;
      pageState.replaceChildren();
      restoreHeldDialog();
    }
  } catch (error) {
    if (thisLoad !== pageLoads) return; // another page was asked for meanwhile
    pageState.hidden = true;
    if (error.status === 401) return;
    say(error.message);
    pageState.replaceChildren(
      el("p", { class: "error" }, `This page could not be loaded: ${error.message}`),
      el("button", { type: "button", onclick: () => route() }, "Retry"));
    pageState.hidden = false;
  } finally {
    clearTimeout(slow);
  }
}

window.addEventListener("hashchange", route);
route();
