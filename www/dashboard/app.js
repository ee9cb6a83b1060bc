// The Aero2 Keys dashboard: plain ES modules, no framework, no CDN. It talks to the
// worker's operator API with the session cookie set at sign-in, and sends the session's
// CSRF token with every change.
import { parsePublishableKey } from "./vendor/aero2-keys/index.js";

const $ = (selector) => document.querySelector(selector);
const DAY_MS = 24 * 60 * 60 * 1000;
// Keys revoked in this view stay listed (as revoked) until the next reload, so the
// operator sees the revocation happen even while revoked keys are hidden.
// `leaks` and `exposures` are the audit entries the banners summarise; `auditListing`
// counts the audit table's listings (see loadAudit) and `auditCursor` is where the next,
// older page starts.
const state = {
  csrf: null, app: null, keys: [], leaks: [], exposures: [], auditListing: 0, auditCursor: null,
  showRevoked: false, justRevoked: new Set(),
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

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["x-csrf-token"] = state.csrf;
  const response = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401 && path !== "/v1/dashboard/session") {
      // The session ended elsewhere: signed out everywhere, ended from another browser, expired.
      if (state.csrf) say("This session has ended: sign in again.");
      showSignIn();
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

function show(view) {
  for (const id of ["sign-in-view", "apps-view", "app-view", "sessions-view"]) $(`#${id}`).hidden = id !== view;
  $("#account").hidden = view === "sign-in-view";
}

function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "never";
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
  state.csrf = null;
  show("sign-in-view");
  $("#admin-token").focus();
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#sign-in-error").textContent = "";
  try {
    const session = await api("POST", "/v1/dashboard/session", { token: $("#admin-token").value });
    state.csrf = session.csrf;
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
  const { applications } = await api("GET", "/v1/applications");
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
    const created = await api("POST", "/v1/applications", { name: $("#app-name").value, environment: $("#app-environment").value });
    $("#app-name").value = "";
    reveal("Your application's first keys", created.keys);
    location.hash = `#/apps/${created.application.id}`;
  } catch (error) { say(error.message); }
});

// ----- one application -------------------------------------------------------------------

const base = () => `/v1/applications/${state.app.id}`;

async function showApp(id) {
  show("app-view");
  const { applications } = await api("GET", "/v1/applications");
  state.app = applications.find((a) => a.id === id);
  if (!state.app) { say("No such application."); location.hash = "#/"; return; }
  $("#app-title").textContent = state.app.name;
  $("#app-meta").textContent = `${state.app.environment} · ${state.app.id}`;
  $("#usage-panel").hidden = true;
  await Promise.all([loadKeys(), loadAudit()]);
}

async function loadKeys() {
  state.keys = (await api("GET", `${base()}/keys?include_revoked=true`)).keys;
  renderKeys();
  const select = $("#audit-key");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "All keys"),
    ...state.keys.map((k) => el("option", { value: k.id }, `${k.label} (${k.hint})`)));
  select.value = chosen;
}

function renderKeys() {
  const visible = (k) => state.showRevoked || k.status !== "revoked" || state.justRevoked.has(k.id);
  const rows = state.keys.filter(visible).map((key) => {
    const status = key.status === "revoked" ? `revoked${key.revocation_reason === "leaked" ? ": leaked" : ""}` : key.status;
    const actions = key.status === "revoked" ? [] : [
      el("button", { type: "button", onclick: () => rotate(key), disabled: key.status !== "active", "aria-label": `Rotate ${key.label} ${key.hint}` }, "Rotate"),
      el("button", { type: "button", class: "danger", onclick: () => revoke(key), "aria-label": `Revoke ${key.label} ${key.hint}` }, "Revoke"),
    ];
    return el("tr", { "data-key-id": key.id, "data-status": key.status },
      el("td", { "data-label": "Kind" }, key.kind),
      el("td", { "data-label": "Label" }, key.label),
      el("td", { "data-label": "Key" }, el("code", {}, key.hint)),
      el("td", { "data-label": "Status" }, el("span", { class: `badge ${key.status}` }, status)),
      el("td", { "data-label": "Created" }, formatTime(key.created_at)),
      el("td", { "data-label": "Last used" }, formatTime(key.last_used_at)),
      el("td", { "data-label": "Grace period" }, key.status === "expiring" ? el("span", { class: "countdown", "data-expires": key.expires_at }, countdown(key.expires_at)) : "—"),
      el("td", { "data-label": "Actions" }, el("div", { class: "row-actions" },
        el("button", { type: "button", onclick: () => showUsage(key), "aria-label": `Usage of ${key.label} ${key.hint}` }, "Usage"), ...actions)));
  });
  $("#keys-table tbody").replaceChildren(...rows);
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
  const [leaks, exposures] = await Promise.all([newest("key.leaked"), newest("key.secret_in_browser")]);
  state.leaks = leaks.entries;
  state.exposures = exposures.entries;
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
  return el("tr", { "data-entry-id": e.id },
    el("td", { "data-label": "Time" }, formatTime(e.at)),
    el("td", { "data-label": "Event" }, el("span", {}, e.event, count)),
    el("td", { "data-label": "Key" }, label(e.key_id)),
    // Operator actions name no address or browser: "operator" and "—".
    el("td", { "data-label": "By" }, e.actor.startsWith("key_") ? label(e.actor) : e.actor),
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

function reveal(title, created) {
  $("#reveal-title").textContent = title;
  $("#reveal-keys").replaceChildren(...created.map((key) => {
    const field = el("input", { readonly: true, value: key.value, "aria-label": `${key.kind} key value`, class: "secret-value", spellcheck: "false" });
    return el("div", { class: "reveal" },
      el("p", {}, el("strong", {}, `${key.kind} key`), ` · ${key.label}`),
      field,
      el("button", { type: "button", onclick: async (event) => {
        try { await navigator.clipboard.writeText(key.value); event.target.textContent = "Copied"; }
        catch { field.select(); event.target.textContent = "Press Ctrl+C"; }
      } }, "Copy"));
  }));
  $("#reveal-advice").textContent = created.some((k) => k.kind === "secret")
    ? "Store secret keys in an environment variable or secret manager on your servers, never in source code or frontend code."
    : "Publishable keys are safe in frontend code.";
  $("#reveal-dialog").showModal();
}

$("#reveal-dialog").addEventListener("close", () => $("#reveal-keys").replaceChildren());

$("#create-key").addEventListener("click", async () => {
  $("#new-key-label").value = "";
  if (await ask($("#create-key-dialog")) !== "create") return;
  try {
    const { key } = await api("POST", `${base()}/keys`, { kind: $("#new-key-kind").value, label: $("#new-key-label").value });
    reveal("Your new key", [key]);
    await Promise.all([loadKeys(), loadAudit()]);
  } catch (error) { say(error.message); }
});

async function revoke(key) {
  $("#revoke-what").textContent = `${key.kind} key “${key.label}” (${key.hint})`;
  if (await ask($("#revoke-dialog")) !== "revoke") return;
  try {
    const { key: revoked } = await api("POST", `${base()}/keys/${key.id}/revoke`);
    state.keys = state.keys.map((k) => (k.id === revoked.id ? revoked : k));
    state.justRevoked.add(revoked.id);
    renderKeys();
    say(`Revoked ${revoked.hint}.`);
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
      : ` The old key ${result.previous_key.hint} no longer works.`;
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

// ----- routing ---------------------------------------------------------------------------

async function route() {
  try {
    if (!state.csrf) state.csrf = (await api("GET", "/v1/dashboard/session")).csrf;
  } catch { showSignIn(); return; }
  const match = /^#\/apps\/(app_[0-9A-Za-z]{16})$/.exec(location.hash);
  try {
    if (location.hash === "#/sessions") await showSessions();
    else if (match) await showApp(match[1]);
    else await showApps();
  } catch (error) { if (error.status !== 401) say(error.message); }
}

window.addEventListener("hashchange", route);
route();
