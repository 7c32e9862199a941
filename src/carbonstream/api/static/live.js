// carbonstream live page: reads GET /v1/live/stream (server-sent events) with fetch, so the
// API key travels in the X-API-Key header (EventSource cannot send headers, and a key in the
// URL would land in server logs and browser history). The key comes from the URL fragment
// (#key=..., never sent to a server), or the form, and is kept in sessionStorage: this tab only.
// Every text a person reads comes from the message catalogue (GET /i18n/live.json, the
// data/i18n/live.yaml entries) by key: zh-CN or en, chosen by the switch in the
// header (kept in localStorage), else by the server (Accept-Language, the plant's locale).
"use strict";

const KEY_ITEM = "carbonstream.key";
const LOCALE_ITEM = "carbonstream.locale";
const I18N = "/i18n/live.json";
const STREAM = "/v1/live/stream?interval=2";
const ALERTS = "/v1/alerts/active";
const FORECAST = "/v1/forecast";
const FORECAST_EVERY_MS = 60000; // the forecast moves once a quarter-hour
const OPPORTUNITIES = "/v1/opportunities?limit=5";
const ENERGY = "/v1/energy?by=plant&bucket=month"; // month to date, GB/T 2589 tce
const OPPORTUNITIES_EVERY_MS = 300000; // hourly data: every 5 minutes is plenty
const STALL_MS = 45000; // no byte (event or heartbeat) for this long: reconnect

const state = {
  key: null,
  lastId: null,
  retryMs: 3000,
  snapshot: null,
  skewMs: 0, // browser clock minus server clock
  lastByte: 0,
  controller: null,
  alerts: null, // null: not loaded; "absent": the server has no alerts endpoint
  alertsError: null,
  forecasts: {}, // site id -> {ok: body} | {problem: detail} (GET /v1/forecast)
  opportunities: null, // {ok: body} | {problem: detail} (GET /v1/opportunities)
  energy: null, // GET /v1/energy body (month to date), or null
  evidence: {}, // opportunity rank -> hourly points of its meter (GET of its evidence link)
  locale: "en",
  locales: ["zh-CN", "en"],
  messages: {}, // locale -> key -> text
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// --- language -------------------------------------------------------------------------------

function T(key, params) {
  const text = (state.messages[state.locale] || {})[key];
  if (text === undefined) {
    console.error("carbonstream: no message " + key + " for " + state.locale);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (m, k) => (params && k in params ? String(params[k]) : m));
}

// A configured name in the page's language: the Chinese name in zh-CN when there is one.
function nameOf(name, nameZh, fallback) {
  if (state.locale === "zh-CN" && nameZh) return nameZh;
  return name || nameZh || fallback;
}

function basisText(basis) {
  return basis === "location" ? T("basis-location") : T("basis-market");
}

async function loadMessages() {
  const res = await fetch(I18N, { cache: "no-store" });
  const body = await res.json();
  state.messages = body.messages;
  state.locales = body.locales;
  const kept = localStorage.getItem(LOCALE_ITEM);
  state.locale = body.locales.includes(kept) ? kept : body.locale;
}

function applyLocale() {
  document.documentElement.lang = state.locale;
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = T(e.dataset.i18n);
  const sw = $("lang");
  sw.textContent = T("switch-to");
  sw.title = T("switch-title");
  if (state.snapshot) render(state.snapshot);
  else document.title = T("page-title");
  renderAlerts();
  renderForecasts();
  renderOpportunities();
}

function setupLocaleSwitch() {
  $("lang").addEventListener("click", () => {
    state.locale = state.locales.find((l) => l !== state.locale) || state.locale;
    localStorage.setItem(LOCALE_ITEM, state.locale);
    applyLocale();
  });
}

// --- key ------------------------------------------------------------------------------------

function takeKeyFromFragment() {
  const m = location.hash.match(/(?:^#|&)key=([^&]+)/);
  if (m) {
    sessionStorage.setItem(KEY_ITEM, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  state.key = sessionStorage.getItem(KEY_ITEM);
}

function askForKey(message) {
  if (message) $("keymsg").textContent = message;
  $("keybox").hidden = false;
  $("forget").hidden = true;
  setConn("off", T("no-key"));
}

function setupKeyForm() {
  $("keyform").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = $("keyinput").value.trim();
    if (!v) return;
    sessionStorage.setItem(KEY_ITEM, v);
    state.key = v;
    $("keyinput").value = "";
    $("keybox").hidden = true;
    start();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_ITEM);
    state.key = null;
    if (state.controller) state.controller.abort();
    askForKey(T("key-forgotten"));
  });
}

// --- stream ---------------------------------------------------------------------------------

function setConn(kind, text) {
  const c = $("conn");
  c.className = "conn conn-" + kind;
  c.dataset.state = kind;
  c.textContent = text;
}

async function problemDetail(res) {
  try {
    const p = await res.json();
    return p.detail || p.title || res.statusText;
  } catch (e) {
    return res.statusText;
  }
}

async function connect() {
  const controller = new AbortController();
  state.controller = controller;
  // The stream's problem events and the forecast's detail come in the page's language.
  const headers = {
    "X-API-Key": state.key, Accept: "text/event-stream", "Accept-Language": state.locale,
  };
  if (state.lastId) headers["Last-Event-ID"] = state.lastId;
  const res = await fetch(STREAM, { headers, signal: controller.signal, cache: "no-store" });
  if (res.status === 401 || res.status === 403) {
    const detail = await problemDetail(res);
    sessionStorage.removeItem(KEY_ITEM);
    state.key = null;
    askForKey(T("key-refused", { detail }));
    return "stop";
  }
  if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
  setConn("live", T("conn-live"));
  $("forget").hidden = false;
  state.lastByte = Date.now();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return "again";
    state.lastByte = Date.now();
    buf = (buf + value).replace(/\r\n?/g, "\n");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (onBlock(block) === "stop") {
        controller.abort();
        return "stop";
      }
    }
  }
}

function onBlock(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue; // comment: heartbeat
    const c = line.indexOf(":");
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? "" : line.slice(c + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
    else if (field === "id") state.lastId = value;
    else if (field === "retry" && /^\d+$/.test(value)) state.retryMs = Number(value);
  }
  if (name === "snapshot" && data.length) {
    const snap = JSON.parse(data.join("\n"));
    state.skewMs = Date.now() - Date.parse(snap.generated_at);
    state.snapshot = snap;
    render(snap);
  } else if (name === "problem" && data.length) {
    const p = JSON.parse(data.join("\n"));
    if (p.status === 401 || p.status === 403) {
      sessionStorage.removeItem(KEY_ITEM);
      state.key = null;
      askForKey(T("key-refused", { detail: p.detail || p.title }));
      return "stop";
    }
    setConn("wait", p.status === 503 ? T("db-unavailable") : T("server-problem"));
  } else if (name === "bye") {
    setConn("wait", T("server-restarting"));
  }
  return "ok";
}

async function start() {
  while (state.key) {
    let outcome;
    try {
      outcome = await connect();
    } catch (e) {
      if (e.name === "AbortError" && !state.key) return;
      outcome = "again";
    }
    if (outcome === "stop") return;
    setConn("wait", T("reconnecting"));
    await new Promise((r) => setTimeout(r, state.retryMs));
  }
}

setInterval(() => {
  if (state.controller && state.key && Date.now() - state.lastByte > STALL_MS) {
    state.controller.abort(); // start() reconnects
  }
}, 5000);

// --- alerts (GET /v1/alerts/active; absent until alerting is deployed) -------------------------

async function pollAlerts() {
  let wait = 10000;
  if (state.key) {
    try {
      const res = await fetch(ALERTS, { headers: { "X-API-Key": state.key }, cache: "no-store" });
      if (res.status === 404) {
        state.alerts = "absent";
        wait = 60000;
      } else if (res.ok) {
        const body = await res.json();
        state.alerts = Array.isArray(body) ? body : body.alerts || body.items || [];
        state.alertsError = null;
      } else {
        state.alertsError = T("alerts-unavailable-http", { status: res.status });
      }
    } catch (e) {
      state.alertsError = T("alerts-unavailable");
    }
    renderAlerts();
  }
  setTimeout(pollAlerts, wait);
}

function alertItem(a) {
  const since = a.since ? fmtTime(typeof a.since === "number" ? a.since * 1000 : a.since) : "";
  const where = [a.site, a.meter].filter(Boolean).join(" / ");
  const text = T("alert-text", {
    rule: a.rule, where: where ? " · " + where : "", value: fmt(a.value),
    threshold: fmt(a.threshold), status: a.status ? " · " + T("alert-" + a.status) : "",
    since: since ? T("alert-since", { time: since }) : "",
  });
  return el("li", { class: "sev-" + (a.severity || "info"), "data-rule": a.rule }, text);
}

function renderAlerts() {
  const list = Array.isArray(state.alerts) ? state.alerts : [];
  const all = $("alerts-list");
  all.replaceChildren(...list.map(alertItem));
  $("alerts-state").textContent = state.alertsError
    ? state.alertsError
    : state.alerts === "absent"
      ? T("alerts-not-enabled")
      : list.length
        ? ""
        : T("none");
  for (const box of document.querySelectorAll("ul.alerts[data-site]")) {
    const mine = list.filter((a) => a.site === box.dataset.site);
    box.replaceChildren(...(mine.length ? mine.map(alertItem) : [el("li", { class: "muted" }, T("none"))]));
  }
}

// --- rendering ------------------------------------------------------------------------------

// A figure with three significant digits and thousands separators: the rule of the
// reports' labels (carbonstream.figures.figure; a test runs both on the same values).
const SIGNIFICANT = 3;

function decimalsOf(x, minDecimals) {
  if (x === 0 || !Number.isFinite(x)) return minDecimals;
  return Math.max(minDecimals, SIGNIFICANT - 1 - Math.floor(Math.log10(Math.abs(x))));
}

function fmt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  const d = decimalsOf(x, 0);
  return x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

function fmtTime(t) {
  const tz = state.snapshot ? state.snapshot.timezone : undefined;
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return new Intl.DateTimeFormat(state.locale, {
    timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(d);
}

function ago(iso) {
  if (!iso) return null;
  return Math.max(0, (Date.now() - state.skewMs - Date.parse(iso)) / 1000);
}

function fmtAge(s) {
  if (s === null) return "—";
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function num(x, field, cls) {
  return el("span", { class: cls || null, "data-field": field, "data-value": x ?? "" }, fmt(x));
}

function trendSvg(trend) {
  // One bar per complete minute of the last hour (the budget-basis total as tCO2e/h).
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "trend");
  svg.setAttribute("viewBox", "0 0 600 60");
  svg.setAttribute("preserveAspectRatio", "none");
  const vals = trend.total_t_per_h;
  const max = Math.max(1e-9, ...vals.filter((v) => v !== null));
  const w = 600 / vals.length;
  vals.forEach((v, i) => {
    if (v === null) return;
    const h = Math.max(1, (v / max) * 56);
    const r = document.createElementNS(NS, "rect");
    r.setAttribute("x", (i * w + 0.5).toFixed(1));
    r.setAttribute("width", Math.max(1, w - 1).toFixed(1));
    r.setAttribute("y", (60 - h).toFixed(1));
    r.setAttribute("height", h.toFixed(1));
    svg.append(r);
  });
  const title = document.createElementNS(NS, "title");
  title.textContent = T("trend-title", { n: vals.length, max: fmt(max) });
  svg.append(title);
  return svg;
}

function projectionText(p) {
  // A projection that rests on less than the whole hour it holds is not judged, only
  // marked as warming up with the minutes it has (the server decides: budget_state).
  if (p.projected_pct === null && !p.projection_warming_up) return "";
  if (p.projection_warming_up) {
    return T("projection-warming-up", { have: Math.floor(p.projection_covered_s / 60),
      need: Math.round(p.projection_min_covered_s / 60) });
  }
  return T("projected-pct", { pct: fmt(p.projected_pct) });
}

function periodBox(label, p, key) {
  const pct = p.used_pct;
  const st = p.budget_state; // ok | warning | over | warming_up | null (no budget)
  const bar = el("div", { class: "bar" + (st ? " bs-" + st : "") }, el("div", { style: null }));
  bar.firstChild.style.width = Math.min(100, pct || 0) + "%";
  return el("div", { class: "period" + (st ? " bs-" + st : ""), "data-period": key },
    el("h3", {}, label,
      st ? el("span", { class: "badge bs-" + st, "data-field": key + "-budget-state",
        "data-value": st }, T("bs-" + st)) : null),
    el("div", { class: "val" }, num(p.total_t, key + "-total"), " t",
      p.budget_t ? el("span", { class: "unit" }, T("of-t", { budget: fmt(p.budget_t) })) : null),
    p.budget_t ? bar : null,
    el("div", { class: "muted" },
      pct !== null ? el("span", {}, num(pct, key + "-used-pct"), T("used-pct")) : T("no-budget"),
      el("span", { "data-field": key + "-projection" }, projectionText(p))));
}

// --- zero-carbon status and intensity (sites[].zero_carbon, sites[].intensity of the snapshot) --

function netBox(label, n, key) {
  const ok = n.zero_carbon;
  return el("div", { class: "period zc " + (ok ? "zc-yes" : "zc-no"), "data-zc": key },
    el("h3", {}, label),
    el("div", { class: "val" }, num(n.net_t, `zc-${key}-net`), T("t-net")),
    el("div", { class: "muted" }, T("gross"), num(n.scope1_t + n.scope2_t, `zc-${key}-gross`),
      T("minus-offsets"), num(n.offsets_t, `zc-${key}-offsets`), " t"),
    el("div", { class: "zc-status", "data-field": `zc-${key}-status`,
      "data-value": ok ? "zero-carbon" : "not-zero-carbon" },
      ok
        ? (n.scope1_t + n.scope2_t > 0 ? T("zc-net-le-0") : T("zc-nothing"))
        : T("zc-left", { t: fmt(n.remaining_t) })));
}

function perUnit(f, unit, field) {
  return f.t_per_unit === null
    ? el("span", { class: "muted", "data-field": field, "data-value": "" }, T("no-production"))
    : el("span", {}, num(f.t_per_unit, field), ` tCO2e/${unit}`);
}

function intensityTable(it) {
  const unit = it.unit || "unit";
  const row = (label, today, month, field, attrs) => el("tr", attrs || {},
    el("td", {}, label), el("td", {}, perUnit(today, unit, `int-today-${field}`)),
    el("td", {}, perUnit(month, unit, `int-month-${field}`)));
  return el("table", { class: "intensity" },
    el("tr", {}, el("th", {}, T("intensity-basis", { basis: basisText(it.basis) })),
      el("th", {}, T("today-lc")), el("th", {}, T("this-month-lc"))),
    row(T("site-lc"), it.today, it.month, "site"),
    ...it.lines.map((l) => row(T("line", { line: l.line }), l.today, l.month, "line",
      { "data-line": l.line })));
}

function greenBox(s) {
  if (!s.zero_carbon && !s.intensity) return null;
  const z = s.zero_carbon;
  return el("div", { class: "green" },
    z ? el("h4", {}, T("zero-carbon-heading", { basis: basisText(z.basis) })) : null,
    z ? el("div", { class: "periods" }, netBox(T("today"), z.today, "today"),
      netBox(T("this-month"), z.month, "month")) : null,
    s.intensity && s.intensity.unit ? intensityTable(s.intensity) : null);
}

// --- energy in tce per site (sites[].energy of the snapshot, GB/T 2589) ----------------------

function energyTable(e) {
  // Per unit of product only where the site has production meters (production_unit).
  const unit = e.production_unit;
  const cell = (v, field) => (v === null
    ? el("span", { class: "muted", "data-field": field, "data-value": "" }, T("no-production"))
    : num(v, field));
  const row = (label, key) => el("tr", {}, el("td", {}, label),
    el("td", {}, cell(e.today[key], `energy-today-${key}`)),
    el("td", {}, cell(e.month[key], `energy-month-${key}`)));
  return el("table", { class: "intensity energy" },
    el("tr", {}, el("th", {}, T("energy-site-heading")), el("th", {}, T("today-lc")),
      el("th", {}, T("this-month-lc"))),
    row(T("energy-equivalent"), "total_tce"),
    row(T("energy-equal"), "total_equal_tce"),
    row(T("energy-onsite"), "onsite_renewable_tce"),
    unit ? row(T("energy-per-unit", { unit }), "tce_per_unit") : null);
}

function siteCard(s) {
  const r = Object.fromEntries(s.rates.map((x) => [x.window_s, x]));
  const r1 = r[60] || {};
  const rateRow = (label, sw, field) => el("tr", {},
    el("td", {}, el("span", { class: "sw " + sw }), label),
    ...[60, 900, 3600].map((w) => el("td", {}, num(r[w] ? r[w][field] : null, `rate-${w}-${field}`))));
  // Each rate is over the seconds its window has data: say so where that is less.
  const coveredRow = el("tr", { class: "muted" }, el("td", {}, T("covered")),
    ...[60, 900, 3600].map((w) => el("td", { "data-field": `covered-${w}`,
      "data-value": r[w] ? r[w].covered_s : "" }, r[w] ? fmtAge(r[w].covered_s) : "—")));
  const covered = r1.covered_s ? "" : T("waiting-first-minute");
  const meters = el("table", { class: "meters" },
    el("tr", {}, el("th", {}, T("meter")), el("th", {}, T("status")), el("th", {}, T("quality")),
      el("th", {}, T("last-good")), el("th", {}, T("silent-for"))),
    ...s.meters.map((m) => el("tr", { "data-meter": m.id },
      el("td", { title: m.id }, nameOf(m.name, m.name_zh, m.id)),
      el("td", {}, el("span", { class: "badge st-" + m.status, "data-field": "status",
        "data-value": m.status }, T("st-" + m.status))),
      el("td", {}, m.quality ? T("q-" + m.quality) : "—"),
      el("td", {}, m.last_good_at ? fmtTime(m.last_good_at) : "—"),
      el("td", { "data-silent-since": m.last_reading_at || "" }, fmtAge(ago(m.last_reading_at))))));
  return el("section", { class: "site", "data-site": s.id },
    el("h2", {}, nameOf(s.name, s.name_zh, s.id), " ", el("small", {}, s.id)),
    el("div", { class: "now" },
      num(r1.total_tco2e_per_h, "rate-now", "big"),
      el("span", { class: "unit" }, T("rate-now", { basis: basisText(s.basis), covered }))),
    trendSvg(s.trend),
    el("table", { class: "rates" },
      el("tr", {}, el("th", {}, "tCO2e/h"), el("th", {}, T("min-1")), el("th", {}, T("min-15")),
        el("th", {}, T("min-60"))),
      rateRow(T("scope1"), "sw-s1", "scope1_tco2e_per_h"),
      rateRow(T("scope2-location"), "sw-s2l", "scope2_location_tco2e_per_h"),
      rateRow(T("scope2-market"), "sw-s2m", "scope2_market_tco2e_per_h"),
      rateRow(T("total-basis", { basis: basisText(s.basis) }), "", "total_tco2e_per_h"),
      coveredRow),
    el("div", { class: "periods" }, periodBox(T("today"), s.today, "today"),
      periodBox(T("this-month"), s.month, "month")),
    el("div", { class: "forecast", "data-forecast": s.id }),
    greenBox(s),
    s.energy ? energyTable(s.energy) : null,
    el("h4", {}, T("meters")), meters,
    el("h4", {}, T("active-alerts")), el("ul", { class: "alerts", "data-site": s.id }));
}

function render(snap) {
  const plant = nameOf(snap.plant, snap.plant_zh, "");
  $("plant").textContent = plant;
  document.title = "carbonstream · " + plant;
  $("updated").textContent = T("updated", { time: fmtTime(snap.generated_at), zone: snap.timezone });
  $("sites").replaceChildren(...snap.sites.map(siteCard));
  renderAlerts();
  renderForecasts();
}

setInterval(() => {
  for (const td of document.querySelectorAll("td[data-silent-since]")) {
    td.textContent = fmtAge(ago(td.dataset.silentSince || null));
  }
}, 1000);

// --- forecast (GET /v1/forecast per site: the projection against the budget) ---------------

async function pollForecasts() {
  const sites = state.snapshot ? state.snapshot.sites.map((x) => x.id) : [];
  if (state.key && sites.length) {
    await Promise.all(sites.map(async (id) => {
      try {
        const res = await fetch(FORECAST + "?site=" + encodeURIComponent(id),
          { headers: { "X-API-Key": state.key, "Accept-Language": state.locale }, cache: "no-store" });
        const body = res.ok ? await res.json() : null;
        if (body && body.status === "ok") state.forecasts[id] = { ok: body };
        else if (body && body.status === "insufficient_history") {
          state.forecasts[id] = { problem: T("forecast-needs-history",
            { needed: body.needed_days, have: fmt(body.history_days) }) };
        } else if (body) state.forecasts[id] = { problem: body.detail || body.status };
        else if (res.status === 404) state.forecasts[id] = { absent: true };
        else state.forecasts[id] = { problem: await problemDetail(res) };
      } catch (e) {
        state.forecasts[id] = { problem: T("forecast-unavailable") };
      }
    }));
    renderForecasts();
  }
  setTimeout(pollForecasts, sites.length ? FORECAST_EVERY_MS : 2000);
}

function fmtT(x) {
  // Whole tonnes with thousands separators from 100 t, as in "1,210 t of 1,150 t budget".
  if (x === null || x === undefined) return "—";
  return Math.abs(x) >= 100
    ? new Intl.NumberFormat(state.locale, { maximumFractionDigits: 0 }).format(x)
    : fmt(x);
}

function fmtDay(iso) {
  const tz = state.snapshot ? state.snapshot.timezone : undefined;
  return new Intl.DateTimeFormat(state.locale === "en" ? "en-GB" : state.locale, {
    timeZone: tz, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    hour12: false,
  }).format(new Date(iso));
}

function projectionRow(label, p) {
  // Month or year: actual so far + forecast for the rest, against the budget.
  const over = p.budget_t !== null && p.projected_t > p.budget_t;
  const scale = Math.max(p.projected_t, p.budget_t || 0, 1e-9);
  const bar = el("div", { class: "fc-bar" + (over ? " over" : "") },
    el("div", { class: "fc-actual" }), el("div", { class: "fc-rest" }));
  bar.children[0].style.width = (100 * p.actual_t / scale) + "%";
  bar.children[1].style.width = (100 * p.forecast_t / scale) + "%";
  if (p.budget_t) {
    const mark = el("div", { class: "fc-budget" });
    mark.style.left = Math.min(100, 100 * p.budget_t / scale) + "%";
    bar.append(mark);
  }
  const key = "forecast-" + p.period;
  return el("div", { class: "fc-period" + (over ? " fc-over" : ""), "data-period": key },
    el("div", {},
      label, T("projected"),
      el("strong", { "data-field": key + "-projected", "data-value": p.projected_t },
        fmtT(p.projected_t), " t"),
      p.budget_t
        ? el("span", {}, T("of"), el("span", { "data-field": key + "-budget" }, fmtT(p.budget_t)),
          T("t-budget-pct", { pct: fmt(p.projected_pct) }))
        : el("span", { class: "muted" }, T("no-budget-paren")),
      p.budget_reached_at
        ? el("span", { class: "fc-when", "data-field": key + "-reached" },
          T("budget-reached"), fmtDay(p.budget_reached_at))
        : null),
    bar,
    el("div", { class: "muted" }, T("so-far-forecast-" + p.period,
      { actual: fmtT(p.actual_t), forecast: fmtT(p.forecast_t) })));
}

function forecastBox(id) {
  const f = state.forecasts[id];
  if (!f || f.absent) return [];
  if (!f.ok) {
    return [el("h4", {}, T("forecast")),
      el("p", { class: "muted", "data-field": "forecast-problem" }, f.problem)];
  }
  const b = f.ok;
  const per = Object.fromEntries(b.periods.map((p) => [p.period, p]));
  const m = b.method;
  const skill = m.day_ahead_mape_pct !== null
    ? T("day-ahead-error", { pct: fmt(m.day_ahead_mape_pct) }) : "";
  const days = m.history_days >= 10 ? Math.round(m.history_days) : m.history_days.toFixed(1);
  return [
    el("h4", {}, T("forecast"), " ",
      el("small", { class: "muted", title: m.name + "; " + m.chosen_by },
        T("fitted-on", { model: m.model, days, skill }))),
    projectionRow(T("month"), per.month),
    per.year.budget_t ? projectionRow(T("year"), per.year) : null,
    el("div", { class: "muted" }, T("next-24h"),
      el("span", { "data-field": "forecast-next" }, fmtT(b.next_t)), T("t-scope", { scope: T("measure-" + b.scope) })),
  ];
}

function renderForecasts() {
  for (const box of document.querySelectorAll("div.forecast[data-forecast]")) {
    box.replaceChildren(...forecastBox(box.dataset.forecast).filter(Boolean));
  }
}

// --- opportunities (GET /v1/opportunities: ranked by tCO2e per year) ------------------------

async function pollOpportunities() {
  if (state.key) {
    try {
      const res = await fetch(OPPORTUNITIES, { headers: { "X-API-Key": state.key }, cache: "no-store" });
      state.opportunities = res.ok ? { ok: await res.json() } : { problem: await problemDetail(res) };
      const en = await fetch(ENERGY, { headers: { "X-API-Key": state.key }, cache: "no-store" });
      state.energy = en.ok ? await en.json() : null;
    } catch (e) {
      state.opportunities = { problem: T("opp-unavailable") };
    }
    state.evidence = {};
    renderOpportunities();
  }
  setTimeout(pollOpportunities, state.key ? OPPORTUNITIES_EVERY_MS : 5000);
}

function localText(t) {
  // The API gives finding titles and actions in both languages: {"zh-CN": ..., en: ...}.
  return t[state.locale] || t.en || "";
}

async function showEvidence(o) {
  try {
    const res = await fetch(o.evidence, { headers: { "X-API-Key": state.key }, cache: "no-store" });
    state.evidence[o.rank] = res.ok ? (await res.json()).points : { problem: await problemDetail(res) };
  } catch (e) {
    state.evidence[o.rank] = { problem: T("opp-unavailable") };
  }
  renderOpportunities();
}

function evidenceSvg(points, unit) {
  // One bar per hour of the window: the readings behind the finding.
  const vals = points.map((p) => p.quantity);
  const svg = trendSvg({ total_t_per_h: vals });
  svg.setAttribute("class", "trend evidence");
  svg.querySelector("title").textContent = T("opp-evidence-title", {
    n: vals.length, max: fmt(Math.max(0, ...vals)), unit,
  });
  return svg;
}

function opportunityItem(o) {
  const cost = o.cost_yuan_per_year === null ? "" : T("opp-cost", { yuan: fmt(o.cost_yuan_per_year) });
  const ev = state.evidence[o.rank];
  const link = el("a", { href: o.evidence, "data-field": "evidence" }, T("opp-readings"));
  link.addEventListener("click", (e) => {
    e.preventDefault();
    showEvidence(o);
  });
  return el("li", { "data-opportunity": o.rank, "data-kind": o.kind, "data-meter": o.meter || "" },
    el("strong", {}, localText(o.title)), " · ", o.meter || o.site, " · ",
    el("span", { "data-field": "tco2e-per-year", "data-value": o.tco2e_per_year },
      T("opp-tco2e", { t: fmt(o.tco2e_per_year) })),
    cost, " · ", o.hours, " · ", link,
    el("div", { class: "muted" }, localText(o.action)),
    ev ? (ev.problem ? el("div", { class: "muted" }, ev.problem) : evidenceSvg(ev, o.energy_unit)) : null);
}

function renderEnergy() {
  const e = state.energy;
  const box = $("energy-month");
  if (!e) {
    box.replaceChildren();
    return;
  }
  const t = e.totals.plant;
  box.replaceChildren(T("energy-month-pre"),
    el("span", { "data-field": "energy-month-tce", "data-value": t.total_tce }, fmt(t.total_tce)),
    T("energy-month-post", { equal: fmt(t.total_equal_tce), onsite: fmt(t.onsite_renewable_tce) }));
}

function renderOpportunities() {
  renderEnergy();
  const o = state.opportunities;
  const list = o && o.ok ? o.ok.opportunities : [];
  $("opp-list").replaceChildren(...list.map(opportunityItem));
  $("opp-state").textContent = !o
    ? T("opp-loading")
    : o.problem
      ? o.problem
      : list.length
        ? T("opp-window", { start: fmtDay(o.ok.start), end: fmtDay(o.ok.end) })
        : T("opp-none");
}

// --- start ----------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  await loadMessages();
  setupLocaleSwitch();
  applyLocale();
  takeKeyFromFragment();
  setupKeyForm();
  if (state.key) start();
  else askForKey();
  pollAlerts();
  pollForecasts();
  pollOpportunities();
});
