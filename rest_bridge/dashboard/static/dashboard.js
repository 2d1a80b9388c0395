// The dashboard's only script: live counters over server-sent events, the chart drawn as SVG,
// the failures table fetched after the page. Server data is only ever set as textContent or
// numbers (never as HTML), except the failures fragment, which the server renders escaped.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const SERIES = ["sent", "delivered", "read", "failed"];
  const COUNTER = { sent: "sent_count", delivered: "delivered_count", read: "read_count", failed: "failed_count" };
  const SIGN_IN = "/dashboard/sign-in";

  function setFields(root, data) {
    for (const element of root.querySelectorAll("[data-field]")) {
      const name = element.dataset.field;
      if (name === "progress_text") {
        element.textContent = data.progress_percentage + " %";
      } else if (name === "estimated_completion_at" && data[name] === null) {
        element.textContent = "-";  // paused or over: no time to promise
      } else if (name in data) {
        if (element.tagName === "PROGRESS") element.value = Number(data[name]);
        else element.textContent = String(data[name]);
      }
    }
  }

  function live(url, onBulk, onEnd) {
    const source = new EventSource(url);
    source.addEventListener("bulk", (event) => onBulk(JSON.parse(event.data)));
    source.addEventListener("end", () => { source.close(); if (onEnd) onEnd(); });
    source.addEventListener("signed-out", () => { source.close(); window.location.assign(SIGN_IN); });
    source.addEventListener("failed", () => source.close());
    source.addEventListener("error", () => {
      // A refused stream (401: the session is over) is closed for good; a dropped one retries.
      if (source.readyState === EventSource.CLOSED) window.location.assign(SIGN_IN);
    });
    return source;
  }

  function bulksPage(table) {
    live(table.dataset.live, (bulk) => {
      for (const row of table.querySelectorAll("tr[data-bulk-id]")) {
        if (row.dataset.bulkId === bulk.id) setFields(row, bulk);
      }
    });
  }

  function chart(svg) {
    const state = { times: [], series: { sent: [], delivered: [], read: [], failed: [] } };
    const width = 640, height = 240, left = 48, bottom = 24, top = 8, right = 8;

    function element(name, attributes, text) {
      const node = document.createElementNS(SVG, name);
      for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
      if (text !== undefined) node.textContent = text;
      return node;
    }

    function draw() {
      svg.replaceChildren();
      const times = state.times;
      if (times.length === 0) {
        svg.appendChild(element("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty" }, "Nothing sent yet"));
        return;
      }
      const first = times[0], last = times[times.length - 1];
      const span = Math.max(last - first, 1);
      let most = 1;
      for (const name of SERIES) for (const value of state.series[name]) most = Math.max(most, value);
      const x = (t) => left + ((t - first) / span) * (width - left - right);
      const y = (v) => height - bottom - (v / most) * (height - bottom - top);
      svg.appendChild(element("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, class: "axis" }));
      svg.appendChild(element("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }));
      svg.appendChild(element("text", { x: left - 4, y: top + 10, "text-anchor": "end", class: "label" }, String(most)));
      svg.appendChild(element("text", { x: left - 4, y: height - bottom, "text-anchor": "end", class: "label" }, "0"));
      const clock = (t) => new Date(t * 1000).toISOString().slice(11, 19);
      svg.appendChild(element("text", { x: left, y: height - 6, class: "label" }, clock(first)));
      svg.appendChild(element("text", { x: width - right, y: height - 6, "text-anchor": "end", class: "label" }, clock(last)));
      for (const name of SERIES) {
        const points = times.map((t, i) => `${x(t).toFixed(1)},${y(state.series[name][i]).toFixed(1)}`);
        if (points.length === 1) points.push(`${(width - right).toFixed(1)},${y(state.series[name][0]).toFixed(1)}`);
        svg.appendChild(element("polyline", { points: points.join(" "), class: `series ${name}`, "data-series": name }));
      }
      svg.dataset.points = String(times.length);
    }

    async function load() {
      const answer = await fetch(svg.dataset.src, { credentials: "same-origin" });
      if (answer.status === 401 || answer.redirected) { window.location.assign(SIGN_IN); return; }
      if (!answer.ok) return;
      const body = await answer.json();
      state.times = body.times;
      state.series = body.series;
      draw();
      svg.dataset.loaded = "true";
    }

    function add(bulk) {
      // A live point: the counters now, so the curve grows while the bulk sends.
      const now = Date.now() / 1000;
      if (state.times.length && now <= state.times[state.times.length - 1]) return;
      state.times.push(now);
      for (const name of SERIES) state.series[name].push(Number(bulk[COUNTER[name]]));
      draw();
    }

    return { load, add };
  }

  async function loadFragment(section) {
    const answer = await fetch(section.dataset.src, { credentials: "same-origin" });
    if (answer.redirected) { window.location.assign(SIGN_IN); return; }
    if (!answer.ok) return;
    // Rendered and escaped by the server (Jinja autoescape), from the same origin.
    const fragment = document.createRange().createContextualFragment(await answer.text());
    section.replaceChildren(fragment);
    section.dataset.loaded = "true";
  }

  function bulkPage(section) {
    const drawing = chart(document.getElementById("chart"));
    const failures = document.getElementById("failures");
    let failed = Number(document.getElementById("failed_count").textContent);
    let refreshing = null;
    const refreshFailures = () => {
      if (refreshing) return;
      refreshing = setTimeout(() => { refreshing = null; loadFragment(failures); }, 1000);
    };
    drawing.load();
    loadFragment(failures);
    live(section.dataset.live, (bulk) => {
      setFields(section, bulk);
      section.dataset.status = bulk.status;
      for (const form of section.querySelectorAll("[data-shown-when]")) {
        form.hidden = !form.dataset.shownWhen.split(" ").includes(bulk.status);
      }
      drawing.add(bulk);
      if (Number(bulk.failed_count) !== failed) { failed = Number(bulk.failed_count); refreshFailures(); }
    }, () => { section.dataset.over = "true"; });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.getElementById("bulks");
    if (table) bulksPage(table);
    const section = document.getElementById("bulk");
    if (section) bulkPage(section);
  });
})();
