// Keel's status page. Every two seconds it reads what the views ask for
// from the agent's HTTP API (with the ACL token kept in this tab's session
// storage, sent as X-Nomad-Token, never in a URL) and lets each view draw
// its section. A view is one file in ui/views/ that calls Keel.view(...).
"use strict";

const Keel = (() => {
  const POLL_MS = 2000;
  const REQUEST_TIMEOUT_MS = 10000;
  const HISTORY_SECONDS = 300;
  const TOKEN_KEY = "keel.token";
  const LEADER_PATH = "/v1/status/leader";
  const COLORS = ["#2f6fdf", "#d9822b", "#1f8a4c", "#8e44ad", "#c0392b", "#16a085"];

  const views = [];
  const histories = new Map();

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /// GET `path` as JSON; a non-2xx answer is an ApiError with the body's text.
  async function get(path) {
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers["X-Nomad-Token"] = token;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch(path, { headers, cache: "no-store", signal: abort.signal });
      const text = await response.text();
      if (!response.ok) throw new ApiError(response.status, text.trim() || response.statusText);
      return text ? JSON.parse(text) : null;
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError(0, error.name === "AbortError" ? "no answer within 10 s" : "the agent is unreachable");
    } finally {
      clearTimeout(timer);
    }
  }

  /// An element: `h("td", {class: "ok"}, "text", child, ...)`. Text is
  /// always set as text, so names from other agents cannot inject markup.
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== undefined && value !== null) element.setAttribute(name, value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  /// A table of `rows`, each an array of cells (text or elements); a row
  /// may carry attributes as `{attributes, cells}`.
  function table(columns, rows) {
    return h("table", {},
      h("thead", {}, h("tr", {}, columns.map((column) => h("th", {}, column)))),
      h("tbody", {}, rows.map((row) => {
        const { attributes, cells } = Array.isArray(row) ? { attributes: {}, cells: row } : row;
        return h("tr", attributes, cells.map((cell) => h("td", {}, cell)));
      })));
  }

  /// Big numbers with a caption: `[["3", "servers"], ...]`.
  function tiles(entries) {
    return h("div", { class: "tiles" }, entries.map(([value, caption, attributes]) =>
      h("div", { class: "tile" }, h("b", attributes || {}, value), h("span", {}, caption))));
  }

  /// The series named `name`: points `{t, v}` of the last five minutes.
  function history(name) {
    if (!histories.has(name)) {
      const points = [];
      histories.set(name, {
        points,
        add(v, t = Date.now()) {
          points.push({ t, v });
          while (points.length && points[0].t < t - HISTORY_SECONDS * 1000) points.shift();
        },
      });
    }
    return histories.get(name);
  }

  /// The change of cumulative totals since the last poll that saw them
  /// under `name` (null the first time, or when the agent restarted).
  const lastTotals = new Map();
  function change(name, totals, t = Date.now()) {
    const last = lastTotals.get(name);
    lastTotals.set(name, { totals, t });
    if (!last || t <= last.t || totals.some((total, i) => total < last.totals[i])) return null;
    return { seconds: (t - last.t) / 1000, deltas: totals.map((total, i) => total - last.totals[i]) };
  }

  /// Requests per second from a cumulative count, kept in the series `name`.
  function rate(name, count) {
    const changed = change(name, [count]);
    if (changed) history(name).add(changed.deltas[0] / changed.seconds);
    return history(name);
  }

  /// The mean value over the last poll interval from a sample's cumulative
  /// count and sum, kept in the series `name` (no point for an idle interval).
  function intervalMean(name, count, sum) {
    const changed = change(name, [count, sum]);
    if (changed && changed.deltas[0] > 0) history(name).add(changed.deltas[1] / changed.deltas[0]);
    return history(name);
  }

  /// A small line chart of several series over the last five minutes.
  function chart(series, unit) {
    const width = 400, height = 80, now = Date.now(), start = now - HISTORY_SECONDS * 1000;
    const max = Math.max(1e-9, ...series.flatMap(({ points }) => points.map((point) => point.v)));
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", `0 0 ${width} ${height + 10}`);
    svg.setAttribute("preserveAspectRatio", "none");
    series.forEach(({ points }, i) => {
      const line = document.createElementNS(svg.namespaceURI, "polyline");
      line.setAttribute("stroke", COLORS[i % COLORS.length]);
      line.setAttribute("points", points.map((p) =>
        `${(((p.t - start) / (now - start)) * width).toFixed(1)},${(height + 5 - (p.v / max) * height).toFixed(1)}`).join(" "));
      svg.append(line);
    });
    const legend = h("div", { class: "legend" },
      h("span", {}, `max ${format(max)} ${unit}, last 5 min`),
      series.map(({ name, points }, i) => h("span", {},
        swatch(COLORS[i % COLORS.length]),
        `${name}: ${points.length ? format(points[points.length - 1].v) : "–"}`)));
    return h("div", {}, svg, legend);
  }

  /// A legend's colour mark (set through the DOM: the page's policy
  /// refuses style attributes written in markup).
  function swatch(color) {
    const mark = h("i", {});
    mark.style.background = color;
    return mark;
  }

  function format(number) {
    if (!Number.isFinite(number)) return "–";
    if (number >= 100) return Math.round(number).toLocaleString("en");
    return number.toFixed(number >= 10 ? 1 : 2);
  }

  /// What a failed read says in a view's section.
  function failure(error) {
    const hint = error.status === 403 ? " (enter a token with the right to read this)" : "";
    return h("p", { class: "error" }, `${error.status ? error.status + ": " : ""}${error.message}${hint}`);
  }

  /// Registers a view: `{id, title, order, paths, wide, render(data, page)}`.
  /// `data[path]` is the JSON of each path read this round; `render` returns
  /// the section's content. A failed read shows its error instead.
  function view(spec) {
    views.push(spec);
    views.sort((a, b) => a.order - b.order);
  }

  function section(spec) {
    let element = document.getElementById(`view-${spec.id}`);
    if (!element) {
      element = h("section", { id: `view-${spec.id}`, class: spec.wide ? "wide" : null });
      document.getElementById("views").append(element);
    }
    return element;
  }

  async function poll() {
    const paths = [...new Set([LEADER_PATH, ...views.flatMap((spec) => spec.paths)])];
    const answers = new Map(await Promise.all(paths.map(async (path) => {
      try {
        return [path, { value: await get(path) }];
      } catch (error) {
        return [path, { error }];
      }
    })));
    showLeader(answers);
    for (const spec of views) {
      const element = section(spec);
      const failed = spec.paths.map((path) => answers.get(path).error).find(Boolean);
      let content;
      try {
        content = failed ? failure(failed)
          : spec.render(Object.fromEntries(spec.paths.map((path) => [path, answers.get(path).value])));
      } catch (error) {
        content = failure(new ApiError(0, `the view failed: ${error.message}`));
      }
      element.replaceChildren(h("h2", {}, spec.title), content);
    }
    document.getElementById("updated").textContent = `Last read ${new Date().toLocaleTimeString("en-GB")}.`;
  }

  /// The banner: this agent names no leader, or names one that cannot
  /// answer (a leader that lost its quorum, or one a follower cannot reach
  /// to relay a read, answers a 5xx that says so).
  function showLeader(answers) {
    const answer = answers.get(LEADER_PATH);
    const unreachable = [...answers.values()].map(({ error }) => error)
      .find((error) => error && error.status >= 500 && /leader/i.test(error.message));
    let problem = null;
    if (answer.error) problem = `This agent cannot reach a cluster leader: ${answer.error.message}`;
    else if (!answer.value) problem = "This agent knows no cluster leader: the servers may be electing one, or too few are up.";
    else if (unreachable) problem = `This agent cannot reach a cluster leader: ${unreachable.message}`;
    const banner = document.getElementById("banner");
    banner.hidden = !problem;
    banner.textContent = problem || "";
    document.body.dataset.leader = answer.value || "";
  }

  async function loop() {
    try {
      await poll();
    } finally {
      setTimeout(loop, POLL_MS);
    }
  }

  function setUpToken() {
    const form = document.getElementById("token-form");
    const input = document.getElementById("token");
    input.value = sessionStorage.getItem(TOKEN_KEY) || "";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
      poll();
    });
    document.getElementById("token-clear").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      input.value = "";
      poll();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("agent").textContent = location.host;
    setUpToken();
    loop();
  });

  return { view, h, table, tiles, chart, rate, intervalMean, format };
})();
