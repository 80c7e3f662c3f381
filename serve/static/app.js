// The retention team's page: one screen per hash route, everything through the documented API.
// #/overview · #/themes · #/themes/ID · #/worklist · #/customers/ID · #/impact
"use strict";

const MESSAGES = window.CXML_MESSAGES;
const state = {
  lang: localStorage.getItem("cxml-lang") === "ja" ? "ja" : "en",
  config: null,
  charts: [],
  render: 0,
};

// --- words, numbers, dates ------------------------------------------------------------------

function t(key, vars = {}) {
  const text = (MESSAGES[state.lang] || MESSAGES.en)[key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? "").toString());
}
function locale() { return state.lang === "ja" ? "ja-JP" : (navigator.language.startsWith("en") ? navigator.language : "en-US"); }
function number(value, digits = 0) {
  if (value == null || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}
function signed(value, digits = 1) {
  if (value == null) return "–";
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits, signDisplay: "exceptZero" }).format(value);
}
function percent(share, digits = 0) {
  if (share == null) return "–";
  return new Intl.NumberFormat(locale(), { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(share);
}
function money(value) {
  if (value == null) return "–";
  const currency = (state.config && state.config.currency) || "USD";
  return new Intl.NumberFormat(locale(), { style: "currency", currency, maximumFractionDigits: 0 }).format(value);
}
function day(text) {
  if (!text) return "–";
  const date = new Date(text.length === 10 ? `${text}T00:00:00` : text);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium" }).format(date);
}
function moment(text) {
  if (!text) return "–";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(text));
}
function periodLabel(period) {
  if (/^\d{4}-\d{2}$/.test(period)) {
    const [y, m] = period.split("-").map(Number);
    return new Intl.DateTimeFormat(locale(), { year: "numeric", month: "short" }).format(new Date(y, m - 1, 1));
  }
  return /^\d{4}-\d{2}-\d{2}$/.test(period) ? day(period) : period;
}

// --- elements (no HTML strings: every text is a text node) ----------------------------------

function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}
function say(message) { const box = document.getElementById("status"); box.textContent = ""; setTimeout(() => { box.textContent = message; }, 50); }
function bandPill(band) { return h("span", { class: `band ${band}` }, t(`band.${band}`)); }

// --- the API ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) { super(`${status}: ${detail}`); this.status = status; this.detail = detail; }
}
function key() { return sessionStorage.getItem("cxml-key") || ""; }
// Whether the signed-in key holds a scope (its scopes come with /v1/config, admin's implied
// ones included): the page offers only the writes the key may make.
function can(scope) { return Boolean(state.config && (state.config.scopes || []).includes(scope)); }
// The scope every write of this page needs: follow-ups and intent corrections (serve/routes).
const ACT = "act";

async function api(path, { method = "GET", body, accept, withKey } = {}) {
  const headers = { "X-API-Key": withKey ?? key() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (accept) headers.Accept = accept;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, t("error.network")); // no answer at all: said in the reader's language
  }
  if (!response.ok) {
    // The API's own words (its one error shape's detail); the status when a body is not that.
    let detail = response.statusText || `HTTP ${response.status}`;
    try {
      const said = (await response.json()).detail;
      if (typeof said === "string" && said) detail = said;
    } catch (error) { /* not JSON */ }
    if (response.status === 401 && withKey === undefined) { signOut(t("error.session")); }
    throw new ApiError(response.status, detail);
  }
  return accept === "text/csv" ? response : response.json();
}
function query(params) {
  const out = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of [].concat(value)) if (item !== "" && item != null) out.append(name, item);
  }
  return out.toString();
}

// --- frame: header, language, sign-in -------------------------------------------------------

const ROUTES = [
  ["overview", "nav.overview"], ["themes", "nav.themes"], ["worklist", "nav.worklist"], ["impact", "nav.impact"],
];

function frame() {
  document.documentElement.lang = state.lang;
  document.title = t("app.title");
  document.getElementById("skip").textContent = t("app.skip");
  const signedIn = Boolean(key());
  const nav = document.getElementById("nav");
  const current = (location.hash.slice(2).split(/[/?]/)[0]) || "overview";
  nav.replaceChildren(...(signedIn ? ROUTES.map(([route, label]) => h("a", {
    href: `#/${route}`, "aria-current": current === route || (route === "themes" && current === "themes") ? "page" : null,
  }, t(label))) : []));
  const language = document.getElementById("lang");
  language.textContent = t("lang.switch");
  language.setAttribute("lang", state.lang === "en" ? "ja" : "en");
  language.setAttribute("title", t("lang.switch.label"));
  document.getElementById("signout").hidden = !signedIn;
  document.getElementById("signout").textContent = t("nav.signout");
  document.getElementById("goto").hidden = !signedIn;
  document.getElementById("goto-label").textContent = t("nav.customer");
  document.getElementById("goto-open").textContent = t("nav.open");
}

function signOut(message) {
  sessionStorage.removeItem("cxml-key");
  state.config = null;
  showSignIn(message);
}

function showSignIn(message) {
  frame();
  const problem = problemSlot("signin.failed", { id: "signin-error" });
  if (message) problem.show(message);
  const input = h("input", { id: "signin-key", type: "password", autocomplete: "off", required: true, "aria-describedby": "signin-error" });
  const form = h("form", { class: "stack", onsubmit: async (event) => {
    event.preventDefault();
    problem.clear();
    try {
      state.config = await api("/v1/config", { withKey: input.value.trim() });
      sessionStorage.setItem("cxml-key", input.value.trim());
      if (!location.hash || location.hash === "#/signin") location.hash = "#/overview";
      else route();
    } catch (failure) {
      problem.show(failure.status === 401 ? t("signin.bad") : failure.status === 403 ? t("signin.scope") : failure);
      input.focus();
    }
  } },
  h("label", { for: "signin-key" }, t("signin.key")), input, " ", h("button", { class: "primary", type: "submit" }, t("signin.submit")));
  screen(t("signin.title"), h("section", { class: "card signin" }, h("p", {}, t("signin.intro")), form, problem.box));
  input.focus();
}

function screen(title, ...content) {
  for (const chart of state.charts) chart.destroy();
  state.charts = [];
  const main = document.getElementById("main");
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...content);
  document.title = `${title} · ${t("app.title")}`;
  return heading;
}
function failed(error) { return h("p", { class: "error", role: "alert" }, t("error.load", { detail: error.detail || String(error) })); }
// The one message of a control that failed (a write, "more", the export) or of a part of a
// screen, in its place: the next failure replaces it and a success clears it, so repeated
// tries never stack messages. Its place is no error until one happens (an empty, hidden
// "error" would read as one). `words` is the message's key, the API's words in its {detail};
// show() also takes a whole message.
function problemSlot(words, props = {}) {
  const box = h("p", { role: "alert", hidden: true, ...props });
  return {
    box,
    show(error) {
      box.textContent = typeof error === "string" ? error : t(words, { detail: error.detail || String(error) });
      box.classList.add("error"); box.hidden = false;
    },
    clear() { box.textContent = ""; box.classList.remove("error"); box.hidden = true; },
  };
}
function writeProblem() { return problemSlot("error.save", { class: "write-error" }); }
function loading() { return h("p", { class: "muted" }, t("loading")); }

// --- charts -------------------------------------------------------------------------------

// A line per metric with its 95 % interval as a shaded band; x is the period (its label shown).
function lineChart(container, { periods, lines, title, range }) {
  const palette = ["#0b57d0", "#b42318", "#1e6b3a"];
  const bands = ["rgba(11,87,208,0.15)", "rgba(180,35,24,0.12)", "rgba(30,107,58,0.12)"];
  const data = [periods.map((_, i) => i)];
  const series = [{ label: "" }];
  const shaded = [];
  lines.forEach((line, n) => {
    data.push(line.values, line.high || line.values.map(() => null), line.low || line.values.map(() => null));
    series.push({ label: line.label, stroke: palette[n], width: 2, points: { show: true, size: 5 } });
    series.push({ label: `${line.label} · ${t("overview.series.interval")}`, stroke: "transparent", points: { show: false } });
    series.push({ label: "", stroke: "transparent", points: { show: false } });
    if (line.high) shaded.push({ series: [series.length - 2, series.length - 1], fill: bands[n] });
  });
  container.replaceChildren();
  container.setAttribute("role", "img");
  container.setAttribute("aria-label", title);
  const width = Math.max(280, container.clientWidth || 600);
  // Ticks at least one label apart: Japanese month labels (2026年10月) are wider than English.
  const ruler = document.createElement("canvas").getContext("2d");
  ruler.font = "12px system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', sans-serif";
  const widest = Math.max(30, ...periods.map((p) => ruler.measureText(periodLabel(p)).width));
  const chart = new uPlot({
    width, height: 220, series, bands: shaded,
    legend: { show: false },
    scales: { x: { time: false }, y: range ? { range } : {} },
    axes: [
      { space: widest + 16, values: (_, ticks) => ticks.map((i) => (Number.isInteger(i) && periods[i] ? periodLabel(periods[i]) : "")) },
      { values: (_, ticks) => ticks.map((v) => number(v, Math.abs(v) < 10 ? 1 : 0)) },
    ],
  }, data, container);
  state.charts.push(chart);
  container.uplot = chart; // the browser test reads where its labels fell
  new ResizeObserver(() => chart.setSize({ width: Math.max(280, container.clientWidth), height: 220 })).observe(container);
  container.append(h("p", { class: "note" }, lines.map((line, n) => h("span", {}, h("span", { style: `color:${palette[n]}`, "aria-hidden": "true" }, "━ "), line.label, line.high ? ` · ${t("overview.series.interval")} ` : " ",
    line.high ? h("span", { style: `background:${bands[n]}`, "aria-hidden": "true" }, "\u2003") : null, " "))));
  return chart;
}

// A small trend line drawn as SVG (for tables).
function sparkline(counts, label) {
  const width = 90, height = 24, top = Math.max(1, ...counts);
  const points = counts.map((c, i) => `${(i * width) / Math.max(1, counts.length - 1)},${height - 2 - (c / top) * (height - 4)}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", width); svg.setAttribute("height", height); svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img"); svg.setAttribute("aria-label", label);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points); line.setAttribute("fill", "none"); line.setAttribute("stroke", "#0b57d0"); line.setAttribute("stroke-width", "2");
  svg.append(line);
  return svg;
}

// An estimate with its interval on a small bar around zero (for tables).
function interval(value, low, high, scale, { higherIsBetter = true, sure = true } = {}) {
  if (value == null || low == null || high == null) return h("span", { class: "muted" }, t("themes.unknown"));
  const at = (v) => `${Math.max(0, Math.min(100, 50 + (v / scale) * 50))}%`;
  const bar = h("div", { class: "ci", "aria-hidden": "true" },
    h("span", { class: "zero", style: `left:${at(0)}` }),
    h("span", { class: "range", style: `left:${at(low)};width:calc(${at(high)} - ${at(low)})` }),
    h("span", { class: "point", style: `left:${at(value)}` }));
  const up = low > 0, down = high < 0;
  const tone = !sure || (!up && !down) ? "" : (up === higherIsBetter ? "good" : "bad");
  return h("div", {}, h("span", { class: tone }, t("themes.points", { value: signed(value) })),
    h("span", { class: "muted" }, ` [${signed(low)}, ${signed(high)}]`), bar);
}

// Text with [start, end) spans marked (offsets in the text as given).
function highlighted(text, spans) {
  const marks = spans.filter((s) => s.span).sort((a, b) => a.span[0] - b.span[0]);
  const out = [];
  let at = 0;
  for (const { span, label } of marks) {
    const [start, end] = span;
    if (start < at || end > text.length) continue;
    out.push(text.slice(at, start), h("mark", { title: label }, h("span", { class: "visually-hidden" }, `${t("theme.evidence", { theme: label })}: `), text.slice(start, end)));
    at = end;
  }
  out.push(text.slice(at));
  return out;
}

// --- reasons, follow-ups ------------------------------------------------------------------

function reasonList(reasons) {
  return h("div", {}, (reasons || []).map((reason) => h("div", {},
    h("p", { class: `reason${reason.contribution < 0 ? " lowers" : ""}` }, reason.text),
    reason.evidence && reason.evidence.quote ? h("blockquote", { class: "quote" }, `“${reason.evidence.quote}” — ${day(reason.evidence.date)}`) : null,
    reason.evidence && reason.evidence.kind && reason.evidence.feedback_id ? intentControl(reason.evidence.feedback_id, reason.evidence.kind, null) : null)));
}

async function saveFollowUp(customerId, followUp, changes) {
  if (followUp) return api(`/v1/customers/${encodeURIComponent(customerId)}/follow-ups/${followUp.follow_up_id}`, { method: "PATCH", body: changes });
  return api(`/v1/customers/${encodeURIComponent(customerId)}/follow-ups`, { method: "POST", body: { status: "open", ...changes } });
}

// --- overview -----------------------------------------------------------------------------

function currentPeriod(period) {
  const now = new Date();
  if (period === "month") return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
  const monday = new Date(now); monday.setDate(now.getDate() - ((now.getDay() + 6) % 7));
  return `${monday.getFullYear()}-${String(monday.getMonth() + 1).padStart(2, "0")}-${String(monday.getDate()).padStart(2, "0")}`;
}

async function overview() {
  const saved = JSON.parse(sessionStorage.getItem("cxml-overview") || "{}");
  const filters = { period: "month", channel: "", language: "", segment: "", value: "", ...saved };
  const body = h("div", {}, loading());
  const form = h("form", { class: "filters", "aria-label": t("overview.title") });
  const part = problemSlot("error.part", { id: "overview-part-error" });
  screen(t("overview.title"), form, part.box, body);
  const customerSegments = (state.config && state.config.segments) || [];
  // a survey's columns kept with each response (journey stage, plan) filter NPS, CSAT and CES
  const segments = [...new Set([...customerSegments, ...((state.config && state.config.response_segments) || [])])].sort();
  const options = (values, chosen) => values.map(([value, label]) => h("option", { value, selected: value === chosen }, label));
  let channels = [], languages = [];
  try {
    const split = await api(`/v1/metrics/nps?${query({ by: ["channel", "language"] })}`);
    channels = [...new Set(split.rows.map((r) => r.channel))].sort();
    languages = [...new Set(split.rows.map((r) => r.language).filter(Boolean))].sort();
  } catch (error) { part.show(error); } // the filters offer what they can, and say so
  form.replaceChildren(
    h("label", {}, t("overview.period"), h("select", { name: "period" }, options([["month", t("overview.month")], ["week", t("overview.week")]], filters.period))),
    h("label", {}, t("overview.channel"), h("select", { name: "channel" }, options([["", t("overview.all")], ...channels.map((c) => [c, c])], filters.channel))),
    h("label", {}, t("overview.language"), h("select", { name: "language" }, options([["", t("overview.all")], ...languages.map((l) => [l, l])], filters.language))),
    h("label", {}, t("overview.segment"), h("select", { name: "segment" }, options([["", t("overview.all")], ...segments.map((s) => [s, s])], filters.segment))),
    h("label", {}, t("overview.segment.value"), h("input", { name: "value", value: filters.value, size: 10 })),
    h("button", { class: "primary", type: "submit" }, t("overview.apply")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("cxml-overview", JSON.stringify(Object.fromEntries(new FormData(form))));
    overview();
  });
  try {
    const feedbackDims = [filters.channel && "channel", filters.language && "language", filters.segment && filters.value && filters.segment].filter(Boolean);
    // churn counts customers: a response attribute does not split it (the charts show everyone)
    const customerDims = [filters.segment && filters.value && customerSegments.includes(filters.segment) && filters.segment].filter(Boolean);
    const load = (metric, by) => api(`/v1/metrics/${metric}?${query({ period: filters.period, by })}`);
    const [nps, csat, ces, churn, retention, summary] = await Promise.all([
      load("nps", feedbackDims), load("csat", feedbackDims), load("ces", feedbackDims),
      load("churn-rate", customerDims), load("retention", customerDims), api("/v1/at-risk/summary"),
    ]);
    const keep = (rows) => rows.filter((r) => (!filters.channel || !("channel" in r) || r.channel === filters.channel)
      && (!filters.language || !("language" in r) || r.language === filters.language)
      && (!filters.segment || !filters.value || !(filters.segment in r) || String(r[filters.segment]) === filters.value));
    const open = currentPeriod(filters.period);
    const complete = (rows) => keep(rows).filter((r) => r.period < open);
    const latest = (rows) => { const done = complete(rows); return done[done.length - 1]; };
    const kpi = (label, row, field, show, extra) => h("div", { class: "kpi" },
      h("div", { class: "label" }, label),
      h("div", { class: "value" }, row ? show(row[field]) : "–"),
      h("div", { class: "sub" }, row ? `${t("overview.interval", { low: show(row.ci_low), high: show(row.ci_high) })} · n=${number(row.n)}${row.small ? ` · ${t("small")}` : ""}` : t("overview.nodata")),
      extra ? h("div", { class: "sub" }, extra) : null);
    const risky = summary.bands.filter((b) => b.band !== "low");
    const periodName = t(`overview.${filters.period}`);
    body.replaceChildren(
      h("div", { class: "kpis" },
        kpi(t("overview.nps"), latest(nps.rows), "nps", (v) => signed(v, 0), latest(nps.rows) && t("overview.latest", { period: periodName })),
        kpi(t("overview.csat"), latest(csat.rows), "csat", (v) => percent(v / 100)),
        kpi(t("overview.ces"), latest(ces.rows), "ces", (v) => number(v, 2)),
        churn.churn_data === false
          ? h("div", { class: "kpi", id: "kpi-churn" }, h("div", { class: "label" }, t("overview.series.churn")),
            h("div", { class: "value" }, "–"), h("div", { class: "sub" }, t("overview.nochurn")))
          : kpi(t("overview.series.churn"), latest(churn.rows), "churn_rate", (v) => percent(v / 100, 1)),
        h("div", { class: "kpi" }, h("div", { class: "label" }, t("overview.atrisk")),
          h("div", { class: "value", id: "kpi-at-risk" }, number(summary.at_risk_customers)),
          h("div", { class: "sub" }, risky.map((b) => `${t(`overview.band.${b.band}`)} ${number(b.customers)}`).join(" · ")),
          h("div", { class: "sub", id: "kpi-scored" }, t("overview.scored", { scored: number(summary.scored_customers), active: number(summary.active_customers) }))),
        h("div", { class: "kpi" }, h("div", { class: "label" }, t("overview.atrisk.value")),
          h("div", { class: "value", id: "kpi-revenue" }, summary.churn_data === false ? "–" : money(summary.revenue_at_risk)),
          summary.churn_data === false ? h("div", { class: "sub" }, t("overview.nochurn")) : null)));
    const charts = [
      ["overview.nps", nps.rows, [["nps", "overview.series.nps"]], [-100, 100]],
      ["overview.csat", csat.rows, [["csat", "overview.series.csat"]], [0, 100]],
      ["overview.ces", ces.rows, [["ces", "overview.series.ces"]], [1, 7]],
      ["overview.series.churn", churn.rows, [["churn_rate", "overview.series.churn"]], null],
      ["overview.series.retention", retention.rows, [["retention_rate", "overview.series.retention"]], null],
    ];
    const grid = h("div", { class: "grid" });
    body.append(grid);
    for (const [titleKey, rows, fields, range] of charts) {
      const shown = complete(rows);
      const box = h("div", { class: "chart" });
      const id = `chart-${titleKey.replace(/\W/g, "-")}`;
      const card = h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, t(titleKey)), box);
      if (titleKey === "overview.series.churn") card.append(h("p", { class: "note" }, t("overview.churn.note")));
      grid.append(card);
      if (!shown.length) { box.replaceChildren(h("p", { class: "muted" }, t("overview.nodata"))); continue; }
      const periods = shown.map((r) => r.period);
      const lines = fields.map(([field, label]) => ({
        label: t(label), values: shown.map((r) => r[field]), low: shown.map((r) => r.ci_low), high: shown.map((r) => r.ci_high),
      }));
      lineChart(box, { periods, lines, range, title: t("overview.chart", { metric: t(titleKey), period: periodName }) });
    }
  } catch (error) { part.clear(); body.replaceChildren(failed(error)); } // one message: the screen's
}

// --- themes -------------------------------------------------------------------------------

async function themes() {
  const body = h("div", {}, loading());
  screen(t("themes.title"), h("p", { class: "muted" }, t("themes.intro")), body);
  try {
    const { themes: rows } = await api("/v1/themes");
    if (!rows.length) { body.replaceChildren(h("p", { class: "muted", id: "themes-empty" }, t("themes.empty"))); return; }
    const scale = (values) => Math.max(1, ...values.filter((v) => v != null).map(Math.abs));
    const npsScale = scale(rows.flatMap((r) => [r.nps_impact_ci_low, r.nps_impact_ci_high]));
    const churnScale = scale(rows.flatMap((r) => [r.excess_churn_ci_low, r.excess_churn_ci_high]));
    const head = h("tr", {}, ["themes.theme", "themes.comments", "themes.trend", "themes.sentiment", "themes.nps", "themes.churn", "themes.atrisk", "themes.revenue"]
      .map((k, i) => h("th", { scope: "col", class: i === 1 || i >= 6 ? "num" : null }, t(k))));
    const table = h("table", { id: "themes-table" }, h("thead", {}, head), h("tbody", {}, rows.map((row) => h("tr", { "data-theme": row.theme_id },
      h("th", { scope: "row" }, h("a", { href: `#/themes/${encodeURIComponent(row.theme_id)}` }, row.label), row.alert ? h("span", { class: "pill alert" }, ` ${t("themes.emerging")}`) : null),
      h("td", { class: "num" }, number(row.comments)),
      h("td", {}, sparkline(row.trend.map((p) => p.count), `${row.label}: ${row.trend.map((p) => `${periodLabel(p.period)} ${p.count}`).join(", ")}`)),
      h("td", {}, signed(row.mean_sentiment, 2), h("div", { class: "note" }, t("themes.negative", { share: percent(row.negative_share) }))),
      h("td", {}, interval(row.nps_impact, row.nps_impact_ci_low, row.nps_impact_ci_high, npsScale)),
      h("td", {}, interval(row.excess_churn_pts, row.excess_churn_ci_low, row.excess_churn_ci_high, churnScale, { higherIsBetter: false })),
      h("td", { class: "num" }, number(row.at_risk_customers)),
      h("td", { class: "num" }, money(row.revenue_at_risk))))));
    body.replaceChildren(h("section", { class: "card" }, h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("themes.title") }, table)));
  } catch (error) { body.replaceChildren(failed(error)); }
}

async function theme(themeId) {
  const comments = h("ul", { class: "timeline", id: "theme-comments" });
  const customers = h("div", {}, loading());
  const more = h("button", { type: "button", hidden: true }, t("theme.more"));
  let label = themeId;
  const heading = screen(themeId,
    h("p", {}, h("a", { href: "#/themes" }, `← ${t("theme.back")}`)),
    h("div", { class: "grid-2" },
      h("section", { class: "card", "aria-labelledby": "theme-comments-title" }, h("h2", { id: "theme-comments-title" }, t("theme.comments")), comments, more),
      h("section", { class: "card", "aria-labelledby": "theme-customers-title" }, h("h2", { id: "theme-customers-title" }, t("theme.customers")), customers)));
  let cursor = null;
  const page = async () => {
    const result = await api(`/v1/themes/${encodeURIComponent(themeId)}/comments?${query({ limit: 20, cursor })}`);
    for (const row of result.items) {
      label = row.theme_label || label;
      comments.append(h("li", { lang: row.language || null },
        h("div", { class: "meta" }, `${moment(row.created_at)} · ${row.channel} · `, h("a", { href: `#/customers/${encodeURIComponent(row.customer_id)}` }, row.customer_id), " ",
          row.theme_sentiment != null ? h("span", { class: `pill ${row.theme_sentiment < -0.05 ? "negative" : row.theme_sentiment > 0.05 ? "positive" : "neutral"}` }, t(`sentiment.${row.theme_sentiment < -0.05 ? "negative" : row.theme_sentiment > 0.05 ? "positive" : "neutral"}`)) : null),
        h("div", {}, highlighted(row.text || "", [{ span: row.span, label: row.theme_label }]))));
    }
    heading.textContent = label;
    document.title = `${label} · ${t("app.title")}`;
    cursor = result.next;
    more.hidden = !cursor;
  };
  // A page of comments that fails says so once, under them; the next page that comes clears it.
  const commentsProblem = problemSlot("error.load", { id: "theme-comments-error" });
  more.after(commentsProblem.box);
  const load = () => page().then(() => commentsProblem.clear(), (error) => commentsProblem.show(error));
  more.addEventListener("click", load);
  await load();
  try {
    const list = await api(`/v1/at-risk?${query({ theme: themeId, band: ["high", "medium"], limit: 15, lang: state.lang })}`);
    customers.replaceChildren(list.items.length ? h("table", {}, h("tbody", {}, list.items.map((item) => h("tr", {},
      h("th", { scope: "row" }, h("a", { href: `#/customers/${encodeURIComponent(item.customer_id)}` }, item.customer_id)),
      h("td", {}, percent(item.probability, 1), " ", bandPill(item.band)),
      h("td", { class: "num" }, money(item.revenue_at_risk)))))) : h("p", { class: "muted", id: "theme-customers-empty" }, emptyWords(list)));
  } catch (error) { customers.replaceChildren(failed(error)); }
}

// --- worklist -----------------------------------------------------------------------------

function effectWords(effect) {
  if (effect && effect.verdict === "none recorded yet") return t("impact.nothing");
  if (!effect || effect.effect_pts == null || effect.verdict === "too little data") return t("impact.few", { n1: number(effect ? effect.contacted : 0), n0: number(effect ? effect.comparable : 0) });
  const vars = { effect: number(Math.abs(effect.effect_pts), 1), low: signed(effect.ci_low_pts), high: signed(effect.ci_high_pts), n1: number(effect.contacted), n0: number(effect.comparable), treated: percent(effect.contacted_retention), control: percent(effect.comparable_retention) };
  if (effect.verdict === "helps") return t("impact.helps", vars);
  if (effect.verdict === "hurts") return t("impact.hurts", vars);
  return t("impact.none", { ...vars, effect: signed(effect.effect_pts) });
}

// A sentence set inside another one's brackets: without its own full stop.
function clause(sentence) {
  return sentence.replace(/[.。]\s*$/, "");
}

function followUpCell(item, row) {
  const follow = item.follow_up;
  const cell = h("td", {});
  const status = h("div", {}, follow ? [h("span", { class: "pill" }, t(`status.${follow.status}`)), " ", follow.owner || "", overdueMark(follow)] : h("span", { class: "muted" }, t("none")));
  if (!can(ACT)) { cell.append(status); return cell; } // the key reads follow-ups, it cannot change them
  const problem = writeProblem();
  const ownerInput = h("input", { value: (follow && follow.owner) || "", "aria-label": t("worklist.assign.to", { customer: item.customer_id }) });
  const outcome = h("select", { "aria-label": t("worklist.outcome", { customer: item.customer_id }) },
    h("option", { value: "stayed" }, t("worklist.stayed")), h("option", { value: "left" }, t("worklist.left")));
  const act = (changes) => async () => {
    try {
      item.follow_up = await saveFollowUp(item.customer_id, item.follow_up, changes);
      row.replaceChild(followUpCell(item, row), cell); // a new cell: no message of an earlier failure
      say(t("worklist.saved.msg", { customer: item.customer_id }));
    } catch (error) { problem.show(error); }
  };
  cell.append(status, h("div", { class: "actions" },
    ownerInput, h("button", { type: "button", onclick: () => act({ owner: ownerInput.value || null })() }, t("worklist.assign")),
    h("button", { type: "button", onclick: act({ status: "contacted" }) }, t("worklist.contacted")),
    outcome, h("button", { type: "button", onclick: () => act({ status: outcome.value === "stayed" ? "resolved" : "lost", outcome: t(`worklist.${outcome.value}`) })() }, t("worklist.resolve"))),
    problem.box);
  return cell;
}

// Open follow-ups past their due date, by id (their due date): the badge counts them, their
// rows are marked. When they cannot be read there is no badge, and `part` says why.
async function overdueFollowUps(part) {
  try {
    const { items } = await api("/v1/follow-ups?overdue=true");
    return new Map(items.map((item) => [item.follow_up_id, item.due_at]));
  } catch (error) { part.show(error); return new Map(); }
}
function overdueMark(follow) {
  const due = follow.status === "open" && state.overdue && state.overdue.get(follow.follow_up_id);
  return due ? h("span", {}, " ", h("span", { class: "pill alert overdue" }, t("worklist.overdue.row", { date: day(due) }))) : null;
}
function overdueBadge(badge) {
  const count = state.overdue.size;
  badge.hidden = !count;
  badge.replaceChildren(count ? h("span", { class: "pill alert" }, t("worklist.overdue", { count: number(count) })) : "");
}

async function worklist() {
  const saved = JSON.parse(localStorage.getItem("cxml-worklist") || "{}");
  const choice = { capacity: "25", theme: "", band: "", owner: "", ...saved };
  const form = h("form", { class: "filters", id: "worklist-form" });
  const summary = h("div", { class: "card", id: "worklist-summary" });
  const body = h("div", {}, loading());
  const overdue = h("p", { id: "worklist-overdue", role: "status", hidden: true });
  const exportProblem = problemSlot("error.export", { id: "worklist-csv-error" });
  const part = problemSlot("error.part", { id: "worklist-part-error" });
  screen(t("worklist.title"), form, exportProblem.box, part.box, overdue, summary, body);
  let themeOptions = [];
  try { themeOptions = (await api("/v1/themes")).themes; } catch (error) { part.show(error); } // the list still works
  form.replaceChildren(
    h("label", {}, t("worklist.capacity"), h("input", { name: "capacity", type: "number", min: 1, max: 5000, value: choice.capacity, required: true })),
    h("label", {}, t("worklist.theme"), h("select", { name: "theme" }, h("option", { value: "" }, t("worklist.anytheme")),
      themeOptions.map((th) => h("option", { value: th.theme_id, selected: th.theme_id === choice.theme }, th.label)))),
    h("label", {}, t("worklist.band"), h("select", { name: "band" }, [["", t("worklist.anyband")], ["high", t("band.high")], ["medium", t("band.medium")]]
      .map(([value, label]) => h("option", { value, selected: value === choice.band }, label)))),
    h("label", {}, t("worklist.owner"), h("input", { name: "owner", value: choice.owner, size: 12 })),
    h("button", { class: "primary", type: "submit" }, t("worklist.show")),
    h("button", { type: "button", id: "worklist-csv", onclick: async () => {
      // fetched, not followed: a refusal is said here, never opened as a page of JSON
      try {
        const response = await api(`/v1/worklist?${query({ ...params(), lang: state.lang })}`, { accept: "text/csv" });
        const link = h("a", { href: URL.createObjectURL(await response.blob()), download: "worklist.csv" });
        document.body.append(link); link.click(); link.remove();
        exportProblem.clear();
      } catch (error) { exportProblem.show(error); }
    } }, t("worklist.csv")));
  const params = () => {
    const values = Object.fromEntries(new FormData(form));
    return { capacity: values.capacity, theme: values.theme, band: values.band, owner: values.owner };
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem("cxml-worklist", JSON.stringify(params()));
    worklist();
  });
  try {
    state.overdue = await overdueFollowUps(part);
    overdueBadge(overdue);
    const list = await api(`/v1/worklist?${query({ ...params(), lang: state.lang })}`);
    if (list.currency && state.config) state.config.currency = list.currency;
    const shares = Object.values(list.saved_share || {});
    summary.replaceChildren(h("p", {}, list.ranked_by === "uplift" ? upliftWords(list.uplift)
      : list.ranked_by === "expected_saved"
      ? t("worklist.ranked.saved", { share: percent(Math.max(...shares)), effect: clause(effectWords(list.effect)) })
      : t("worklist.ranked.risk", { effect: clause(effectWords(list.effect)) })),
    list.uplift && list.ranked_by !== "uplift" ? h("p", { id: "worklist-uplift", class: "muted" }, upliftWords(list.uplift)) : "",
    h("p", { id: "worklist-totals" }, list.expected_saved != null
      ? t("worklist.totals", { count: number(list.items.length), risk: money(list.revenue_at_risk), saved: money(list.expected_saved) })
      : t("worklist.totals.nosaved", { count: number(list.items.length), risk: money(list.revenue_at_risk) })));
    if (!list.items.length) { body.replaceChildren(h("p", { class: "muted", id: "worklist-empty" }, await whyEmpty(part))); return; }
    const head = h("tr", {}, ["worklist.rank", "worklist.customer", "worklist.risk", "worklist.atrisk", "worklist.saved", "worklist.why", "worklist.followup"]
      .map((k, i) => h("th", { scope: "col", class: i === 0 || i === 3 || i === 4 ? "num" : null }, t(k))));
    const rows = list.items.map((item, n) => {
      const row = h("tr", { "data-customer": item.customer_id });
      row.append(h("td", { class: "num" }, number(n + 1)),
        h("th", { scope: "row" }, h("a", { href: `#/customers/${encodeURIComponent(item.customer_id)}` }, item.customer_id)),
        h("td", {}, percent(item.probability, 1), " ", bandPill(item.band)),
        h("td", { class: "num" }, money(item.revenue_at_risk)),
        h("td", { class: "num" }, money(item.expected_saved), item.uplift && item.uplift.push_away
          ? h("div", { class: "pill alert pushaway", title: pushAwayEvidence(item) }, t("worklist.pushaway")) : ""),
        h("td", {}, reasonList(item.reasons)));
      row.append(followUpCell(item, row));
      return row;
    });
    body.replaceChildren(h("section", { class: "card" }, h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("worklist.title") },
      h("table", { id: "worklist-table" }, h("thead", {}, head), h("tbody", {}, rows)))));
  } catch (error) { part.clear(); body.replaceChildren(failed(error)); } // one message: the screen's
}

// How the worklist is ranked by who a call moves (uplift), or why it is still ranked by risk.
function upliftWords(u) {
  if (u.ranked_by === "uplift") {
    return t("worklist.uplift.ranked", { version: u.model_version, qini: u.grades.qini_uplift.toFixed(4), risk: u.grades.qini_risk.toFixed(4) });
  }
  if (u.model_version) return t("worklist.uplift.weak", { version: u.model_version });
  if (Math.min(u.contact, u.control) < u.min_per_arm) {
    return t("worklist.uplift.few", { outcomes: number(u.outcomes), contact: number(u.contact), control: number(u.control), needed: number(u.min_per_arm) });
  }
  return t("worklist.uplift.untrained", { outcomes: number(u.outcomes) });
}

// The evidence behind "a call may push them away": the estimate, its interval and the band's
// observed retention of contacted vs held-out customers in past pulls.
function pushAwayEvidence(item) {
  const u = item.uplift;
  const said = t("worklist.pushaway.estimate", { estimate: percent(u.estimate, 1), low: percent(u.low, 1), high: percent(u.high, 1) });
  const seg = u.segment;
  return seg && seg.retained_contact != null && seg.retained_control != null
    ? `${said} ${t("worklist.pushaway.segment", { contact: percent(seg.retained_contact), control: percent(seg.retained_control) })}` : said;
}

// Why an at-risk list is empty, in the reader's language, from the list's own empty_reason
// (the API's words for a reason this page does not know yet); "none" when only the filters are.
const EMPTY_KEYS = { no_customers: "empty.nocustomers", no_churn_model: "empty.nomodel", no_scores: "empty.noscores", no_active_scores: "empty.noactive" };
function emptyWords(list) {
  if (EMPTY_KEYS[list.empty_reason]) return t(EMPTY_KEYS[list.empty_reason]);
  return list.empty_reason && list.empty_reason !== "no_match" && list.message ? list.message : t("none");
}

// What is missing when the worklist is empty, and what to do next: no customers, no churn
// model, no scores yet (the at-risk list says which), or only the filters. When the at-risk
// list cannot be read, what the worklist says, and `part` says why there is no more.
async function whyEmpty(part) {
  try {
    const list = await api(`/v1/at-risk?${query({ limit: 1 })}`);
    if (!list.items.length && list.empty_reason !== "no_match") return emptyWords(list);
  } catch (error) { part.show(error); }
  return t("worklist.empty");
}

// --- customer -----------------------------------------------------------------------------

function followUpHistory(followUp) {
  return h("ul", { class: "note" }, followUp.history.map((event) => h("li", {}, t("customer.change", {
    when: moment(event.changed_at), who: event.changed_by || "–",
    changes: Object.entries(event.changes).map(([field, [old, now]]) => `${field}: ${old ?? "–"} → ${now ?? "–"}`).join("; "),
  }))));
}

// --- intent corrections: a person says what a comment really says ---------------------------

const KINDS = ["cancel_account", "switch", "stop_using", "never_again", "threat", "already_left"];

function kindName(kind) { const key = `kind.${kind}`; const name = t(key); return name === key ? kind : name; }
function intentName(intent) {
  if (typeof intent === "string") return intent;
  return intent.intent === "leave" && intent.kind ? t("intent.leave", { kind: kindName(intent.kind) }) : intent.intent;
}

// The corrections in force for a customer's comments, by feedback id (with the kinds allowed);
// none when they cannot be read, and `part` says so.
async function customerCorrections(customerId, part) {
  try {
    const answer = await api(`/v1/intent-corrections?${query({ intent: "leave", customer_id: customerId })}`);
    state.kinds = answer.kinds;
    return Object.fromEntries(answer.items.map((c) => [c.feedback_id, c]));
  } catch (error) { part.show(error); return {}; }
}

function correctionWords(correction) {
  const vars = { who: correction.created_by, when: moment(correction.created_at), kind: kindName(correction.verdict) };
  return t(correction.verdict === "not" ? "intent.fixed.not" : "intent.fixed.kind", vars);
}

// "Not a churn intent" when one was read, and "Churn intent: <kind>" to name the right one;
// posts the correction and shows it took.
function intentControl(feedbackId, detectedKind, correction) {
  const done = h("span", { class: "note intent-fixed", role: "status" }, correction ? correctionWords(correction) : "");
  const box = h("div", { class: "intent-fix", "data-feedback": feedbackId });
  // A key that cannot correct sees the intents and the corrections in force, no controls.
  if (!can(ACT)) {
    if (!correction) return null;
    box.append(done);
    return box;
  }
  const problem = writeProblem();
  const send = async (verdict) => {
    try {
      const made = await api(`/v1/feedback/${encodeURIComponent(feedbackId)}/intent-corrections`, { method: "POST", body: { intent: "leave", verdict } });
      problem.clear();
      done.textContent = correctionWords(made);
      say(done.textContent);
    } catch (error) { problem.show(error); }
  };
  const kinds = state.kinds || KINDS;
  const choice = h("select", { class: "intent-kind", "aria-label": t("intent.kind") }, kinds.map((k) => h("option", { value: k, selected: k === detectedKind ? "selected" : null }, kindName(k))));
  const mark = h("button", { type: "button", class: "intent-mark" }, t("intent.mark", { kind: kindName(choice.value) }));
  choice.addEventListener("change", () => { mark.textContent = t("intent.mark", { kind: kindName(choice.value) }); });
  mark.addEventListener("click", () => send(choice.value));
  if (detectedKind) box.append(h("button", { type: "button", class: "intent-not", onclick: () => send("not") }, t("intent.not")), " ");
  box.append(choice, " ", mark, " ", done, problem.box);
  return box;
}

async function customer(customerId) {
  const body = h("div", {}, loading());
  const part = problemSlot("error.part", { id: "customer-part-error" });
  screen(t("customer.title", { id: customerId }), part.box, body);
  let story;
  try {
    story = await api(`/v1/customers/${encodeURIComponent(customerId)}?${query({ lang: state.lang, timeline_limit: 300 })}`);
  } catch (error) {
    body.replaceChildren(error.status === 404 ? h("p", { role: "alert" }, t("customer.notfound", { id: customerId })) : failed(error));
    return;
  }
  const score = story.score;
  const attributes = Object.entries(story.attributes || {}).map(([k, v]) => h("span", { class: "pill" }, `${k}: ${v}`));
  const risk = h("section", { class: "card", "aria-labelledby": "risk-title" }, h("h2", { id: "risk-title" }, t("customer.risk", { days: (state.config && state.config.horizon_days) || 90 })));
  if (score) {
    risk.append(h("p", { class: "kpi-line" }, h("strong", { id: "customer-probability" }, percent(score.probability, 1)), " ", bandPill(score.band), " · ", money(score.revenue_at_risk)),
      score.survival_90 != null ? h("p", { class: "note" }, t("customer.still", { share: percent(score.survival_90), days: number(score.expected_days) })) : null,
      h("h2", {}, t("customer.reasons")), reasonList(score.reasons));
  } else risk.append(h("p", { class: "muted" }, t("customer.noscore")));
  const historyBox = h("div", { class: "chart" });
  const follows = h("div", {});
  const renderFollows = () => follows.replaceChildren(...story.follow_ups.map((f) => h("div", { class: "card" },
    h("p", {}, h("span", { class: "pill" }, t(`status.${f.status}`)), ` ${f.owner || ""} ${f.channel ? `· ${f.channel}` : ""}`),
    f.note ? h("p", {}, f.note) : null, f.outcome ? h("p", { class: "muted" }, f.outcome) : null, followUpHistory(f))));
  renderFollows();
  const owner = h("input", { id: "new-owner", name: "owner" });
  const channel = h("select", { id: "new-channel", name: "channel" }, ["phone", "email", "chat", "visit", "sms"].map((c) => h("option", { value: c }, c)));
  const note = h("textarea", { id: "new-note", name: "note", rows: 2 });
  const statusSelect = h("select", { id: "new-status", name: "status" }, ["open", "contacted", "resolved", "lost"].map((s) => h("option", { value: s }, t(`status.${s}`))));
  const problem = writeProblem();
  const form = h("form", { class: "filters", id: "new-follow-up", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const made = await api(`/v1/customers/${encodeURIComponent(customerId)}/follow-ups`, { method: "POST", body: { owner: owner.value || null, channel: channel.value, note: note.value || null, status: statusSelect.value } });
      problem.clear();
      story.follow_ups.unshift(made);
      renderFollows();
      form.reset();
      say(t("worklist.saved.msg", { customer: customerId }));
    } catch (error) { problem.show(error); }
  } },
  h("label", { for: "new-owner" }, t("worklist.owner"), owner), h("label", { for: "new-channel" }, t("customer.channel"), channel),
  h("label", { for: "new-status" }, t("worklist.followup"), statusSelect), h("label", { for: "new-note" }, t("customer.note"), note),
  h("button", { class: "primary", type: "submit" }, t("customer.save")), problem.box);
  // A key that cannot record follow-ups reads them, and is told why there is no form.
  const newFollowUp = can(ACT) ? [h("h2", {}, t("customer.newfollowup")), form]
    : [h("p", { class: "note", id: "follow-up-readonly" }, t("customer.readonly"))];
  const corrections = await customerCorrections(customerId, part);
  const timeline = h("ul", { class: "timeline", id: "conversation" }, story.timeline.map((event) => {
    const sentiment = event.sentiment_label;
    const scores = [["NPS", event.nps], ["CSAT", event.csat], ["CES", event.ces]].filter(([, v]) => v != null).map(([n, v]) => `${n} ${v}`).join(" · ");
    return h("li", { lang: event.language || null },
      h("div", { class: "meta" }, `${moment(event.created_at)} · ${event.channel}${scores ? ` · ${scores}` : ""} `,
        sentiment ? h("span", { class: `pill ${sentiment}` }, t(`sentiment.${sentiment}`)) : null,
        event.themes.filter((th) => th.id !== "other").map((th) => h("a", { class: "pill", href: `#/themes/${encodeURIComponent(th.id)}` }, th.label)),
        event.intents.length ? h("span", { class: "pill alert" }, `${t("customer.intents")}: ${event.intents.map(intentName).join(", ")}`) : null),
      event.text ? h("div", {}, highlighted(event.text, event.themes.map((th) => ({ span: th.span, label: th.label })))) : null,
      event.text ? intentControl(event.feedback_id, (event.intents.find((i) => i.intent === "leave") || {}).kind, corrections[event.feedback_id]) : null);
  }));
  body.replaceChildren(
    h("p", {}, t("customer.since", { date: day(story.signup_date) }), story.churn_date ? ` · ${t("customer.churned", { date: day(story.churn_date) })}` : "",
      story.monthly_value != null ? ` · ${t("customer.value", { value: money(story.monthly_value) })}` : "", " ", attributes),
    h("div", { class: "grid-2" },
      h("div", {}, risk,
        h("section", { class: "card", "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, t("customer.history")), historyBox),
        h("section", { class: "card", "aria-labelledby": "follow-title" }, h("h2", { id: "follow-title" }, t("customer.followups")), ...newFollowUp, follows)),
      h("section", { class: "card", "aria-labelledby": "conversation-title" }, h("h2", { id: "conversation-title" }, t("customer.conversation")), timeline)));
  const history = [...(story.score_history || [])].reverse();
  if (history.length) {
    lineChart(historyBox, { periods: history.map((s) => s.as_of), lines: [{ label: t("worklist.risk"), values: history.map((s) => 100 * s.probability) }], title: t("customer.history") });
  } else historyBox.replaceChildren(h("p", { class: "muted" }, t("customer.noscore")));
}

// --- impact -------------------------------------------------------------------------------

async function impact() {
  const body = h("div", {}, loading());
  screen(t("impact.title"), body);
  try {
    const segment = ((state.config && state.config.segments) || []).includes("plan") ? "plan" : ((state.config && state.config.segments) || [])[0];
    const result = await api(`/v1/follow-ups/impact?${query({ by: ["owner", "theme", "channel"], segment })}`);
    body.replaceChildren(...randomisedCards(result.randomised), ...observationalCards(result.observational));
  } catch (error) { body.replaceChildren(failed(error)); }
}

// The randomised comparison of the pulls: read first.
function armWords(r) {
  if (r.verdict === "too early") return t("impact.rand.early", { date: day(r.read_after) });
  if (r.verdict === "no holdout") return t("impact.rand.noholdout", { n1: number(r.contact), n0: number(r.control) });
  const [low, high] = r.adjusted_interval_pts;
  const [rawLow, rawHigh] = r.interval_pts;
  const said = t("impact.rand.read", { effect: signed(r.adjusted_effect_pts), low: signed(low), high: signed(high), n1: number(r.contact), n0: number(r.control), treated: percent(r.retained_contact), control: percent(r.retained_control), raw: signed(r.effect_pts), rawlow: signed(rawLow), rawhigh: signed(rawHigh) });
  if (r.verdict === "too few to tell") return `${t("impact.rand.few", { n1: number(r.contact), n0: number(r.control) })} ${said} ${t("impact.rand.mde", { mde: number(r.mde_pts, 1) })}`;
  if (r.verdict === "no measurable effect") return `${said} ${t("impact.rand.mde", { mde: number(r.mde_pts, 1) })}`;
  return said;
}

function randVerdict(r) {
  return t(`verdict.${{ "contact helps": "helps", "contact hurts": "hurts", "no measurable effect": "none" }[r.verdict] || "few"}`);
}

function randomisedCards(rand) {
  const overall = rand.overall;
  const head = h("section", { class: "card", "aria-labelledby": "impact-rand" }, h("h2", { id: "impact-rand" }, t("impact.rand.title")));
  if (!overall) {
    head.append(h("p", { class: "verdict", id: "impact-rand-verdict" }, rand.pulls.length ? t("impact.rand.early", { date: day(rand.next_read_on) }) : t("impact.rand.none")));
  } else {
    head.append(h("p", { class: "verdict", id: "impact-rand-verdict" }, armWords(overall)));
    if (overall.saves_interval) {
      head.append(h("p", {}, t("impact.rand.saves", { saves: signed(overall.saves), slow: signed(overall.saves_interval[0]), shigh: signed(overall.saves_interval[1]), money: money(overall.revenue_saved), mlow: money(overall.revenue_saved_interval[0]), mhigh: money(overall.revenue_saved_interval[1]) })));
    }
  }
  head.append(h("p", { class: "note" }, t("impact.rand.method")));
  const pulls = h("section", { class: "card", "aria-labelledby": "impact-pulls" }, h("h2", { id: "impact-pulls" }, t("impact.rand.pulls")),
    rand.pulls.length ? h("ul", {}, rand.pulls.map((p) => h("li", {}, `${t("impact.rand.pull", { id: p.pull_id, date: day(p.pulled_at) })}: ${armWords(p)}`))) : h("p", { class: "muted" }, t("none")));
  const splits = overall ? overall.splits.filter((s) => s.rows.length) : [];
  const all = splits.flatMap((s) => s.rows).filter((r) => r.adjusted_interval_pts);
  const scale = Math.max(1, ...all.flatMap((r) => r.adjusted_interval_pts.map(Math.abs)));
  const table = (split) => h("section", { class: "card", "aria-labelledby": `impact-rand-${split.by}` },
    h("h2", { id: `impact-rand-${split.by}` }, t("impact.rand.by", { by: split.by }), " ", h(split.randomised ? "span" : "strong", { class: split.randomised ? "muted" : null }, split.randomised ? t("impact.rand.randomised") : t("impact.rand.notrandomised"))),
    h("p", { class: "note" }, split.note),
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("impact.rand.by", { by: split.by }) }, h("table", {},
      h("thead", {}, h("tr", {}, ["impact.group", "impact.contacted", "impact.held", "impact.effect", "impact.verdict"].map((k, i) => h("th", { scope: "col", class: i === 1 || i === 2 ? "num" : null }, t(k))))),
      h("tbody", {}, split.rows.slice(0, 20).map((r) => h("tr", {}, h("th", { scope: "row" }, r.label), h("td", { class: "num" }, number(r.contact)), h("td", { class: "num" }, number(r.control)),
        h("td", {}, r.adjusted_interval_pts ? interval(r.adjusted_effect_pts, r.adjusted_interval_pts[0], r.adjusted_interval_pts[1], scale, { sure: r.verdict !== "too few to tell" }) : "–"), h("td", {}, randVerdict(r))))))));
  return [head, pulls, ...splits.map(table)];
}

// The observational comparison of follow-ups: second, and labelled.
function observationalCards(result) {
  const all = [result.overall, ...Object.values(result.by).flat()].filter((r) => r.ci_low_pts != null);
  const scale = Math.max(1, ...all.flatMap((r) => [Math.abs(r.ci_low_pts), Math.abs(r.ci_high_pts)]));
  const verdict = (r) => t(`verdict.${{ helps: "helps", hurts: "hurts", "no measurable effect": "none" }[r.verdict] || "few"}`);
  const table = (split, rows) => h("section", { class: "card", "aria-labelledby": `impact-${split}` }, h("h2", { id: `impact-${split}` }, t("impact.obs.tag"), " · ", t(`impact.by.${split}`)),
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t(`impact.by.${split}`) }, h("table", {},
      h("thead", {}, h("tr", {}, ["impact.group", "impact.contacted", "impact.comparable", "impact.effect", "impact.verdict"].map((k, i) => h("th", { scope: "col", class: i === 1 || i === 2 ? "num" : null }, t(k))))),
      h("tbody", {}, rows.map((r) => h("tr", {}, h("th", { scope: "row" }, r.label), h("td", { class: "num" }, number(r.contacted)), h("td", { class: "num" }, number(r.comparable)),
        h("td", {}, interval(r.effect_pts, r.ci_low_pts, r.ci_high_pts, scale, { sure: r.verdict !== "too little data" })), h("td", {}, verdict(r))))))));
  return [
    h("section", { class: "card", "aria-labelledby": "impact-obs" }, h("h2", { id: "impact-obs" }, t("impact.obs.title")),
      h("p", { class: "verdict", id: "impact-verdict" }, effectWords(result.overall)), h("p", { class: "note" }, t("impact.obs.label")), h("p", { class: "note" }, t("impact.method", { days: result.horizon_days }))),
    ...Object.entries(result.by).filter(([, rows]) => rows.length).map(([split, rows]) => table(split, rows.slice(0, 20))),
  ];
}

// --- routing --------------------------------------------------------------------------------

async function route() {
  frame();
  if (!key()) { showSignIn(); return; }
  if (!state.config) {
    try { state.config = await api("/v1/config"); } catch (error) {
      // 401: api() has signed out already. Without the config the page cannot know what the
      // key may do, so no screen is drawn on a guess: the failure is said in its place.
      if (error.status === 403) signOut(t("signin.scope"));
      else if (error.status !== 401) screen(t("app.title"), failed(error));
      return;
    }
  }
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("?")[0].split("/");
  const id = decodeURIComponent(rest.join("/"));
  if (name === "themes" && id) await theme(id);
  else if (name === "themes") await themes();
  else if (name === "worklist") await worklist();
  else if (name === "customers" && id) await customer(id);
  else if (name === "impact") await impact();
  else await overview();
  const heading = document.querySelector("main h1");
  if (heading && state.render++ > 0) heading.focus();
}

document.getElementById("lang").addEventListener("click", () => {
  state.lang = state.lang === "en" ? "ja" : "en";
  localStorage.setItem("cxml-lang", state.lang);
  route();
});
document.getElementById("signout").addEventListener("click", () => signOut());
document.getElementById("goto").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = document.getElementById("goto-id").value.trim();
  if (value) location.hash = `#/customers/${encodeURIComponent(value)}`;
});
window.addEventListener("hashchange", route);
route();
