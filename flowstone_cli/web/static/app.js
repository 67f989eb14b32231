// FlowStone dashboard: live updates (server-sent events), graph pan/zoom/search/highlight,
// and forms that post with the server's token. No framework, no build step, nothing online.
"use strict";
(function () {
  const LABELS = {running: "running", waiting_approval: "waiting for approval", failed: "failed",
    stale: "stale", up_to_date: "up to date", never: "never materialized"};
  const main = document.getElementById("main");
  const meta = document.querySelector('meta[name="flowstone-token"]');
  const token = meta ? meta.content : "";
  const live = document.getElementById("live");

  function flash(text, ok) {
    let box = document.querySelector(".flash");
    if (!box) {
      box = document.createElement("div");
      box.setAttribute("role", "status");
      main.parentNode.insertBefore(box, main);
    }
    box.className = "flash " + (ok ? "ok" : "bad");
    box.textContent = text;   // text, never HTML
  }

  // ---- live updates -------------------------------------------------------------------
  function editing() {
    const active = document.activeElement;
    if (active && main.contains(active) && /INPUT|TEXTAREA|SELECT/.test(active.tagName)) {
      return true;
    }
    return Array.from(main.querySelectorAll("form.act input:not([type=hidden]), form.act textarea"))
      .some((el) => el.value && el.defaultValue !== el.value);
  }

  let pending = null;
  function refreshMain(version) {
    if (editing()) { pending = version; return; }
    pending = null;
    fetch(location.href, {headers: {"X-Fragment": "1"}, credentials: "same-origin"})
      .then((r) => r.text().then((text) => ({ok: r.ok, text: text})))
      .then((res) => {
        if (editing()) { pending = version; return; }
        main.innerHTML = res.text;
        main.dataset.version = String(version);
        bindForms();
      })
      .catch(() => { pending = version; });
  }
  document.addEventListener("focusout", () => {
    if (pending !== null) setTimeout(() => { if (pending !== null) refreshMain(pending); }, 300);
  });

  function applyGraph(state) {
    const nodes = document.querySelectorAll("#graph .node");
    nodes.forEach((node) => {
      const entry = state.assets[node.dataset.name];
      if (!entry) return;
      node.dataset.state = entry[0];
      const title = node.querySelector("title");
      if (title) {
        title.textContent = node.dataset.name + " — " + (LABELS[entry[0]] || entry[0]) +
          (entry[1] ? ": " + entry[1] : "");
      }
    });
    main.dataset.version = String(state.version);
  }

  if (window.EventSource && main) {
    const source = new EventSource("/events");
    source.addEventListener("open", () => { live.className = "live on"; });
    source.addEventListener("error", () => { live.className = "live off"; });
    source.addEventListener("state", (event) => {
      const state = JSON.parse(event.data);
      document.body.dataset.liveVersion = String(state.version);
      if (String(state.version) === main.dataset.version) return;
      if (document.getElementById("graph")) applyGraph(state);
      else refreshMain(state.version);
    });
  }

  // ---- forms that change something ----------------------------------------------------
  function bindForms() {
    main.querySelectorAll("form.act").forEach((form) => {
      if (form.dataset.bound) return;
      form.dataset.bound = "1";
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const buttons = form.querySelectorAll("button");
        buttons.forEach((b) => { b.disabled = true; });
        fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form)),
          credentials: "same-origin",
          headers: {"X-FlowStone-Token": token, "Accept": "application/json"}})
          .then((r) => r.json().then((data) => ({ok: r.ok, data: data})))
          .then((res) => {
            flash(res.data.message || res.data.error || "done", res.ok);
            buttons.forEach((b) => { b.disabled = false; });
            if (res.ok && res.data.url) { location.href = res.data.url; return; }
            form.reset();
            refreshMain(main.dataset.version);
          })
          .catch((err) => {
            flash("request failed: " + err, false);
            buttons.forEach((b) => { b.disabled = false; });
          });
      });
    });
  }
  bindForms();

  // ---- graph: pan, zoom, fit, search, highlight -----------------------------------------
  const svg = document.getElementById("graph");
  if (!svg) return;
  const full = {x: 0, y: 0, w: Number(svg.dataset.width), h: Number(svg.dataset.height)};
  let view = Object.assign({}, full);
  function show() { svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`); }
  function zoom(factor, cx, cy) {
    const nx = cx - (cx - view.x) * factor;
    const ny = cy - (cy - view.y) * factor;
    view = {x: nx, y: ny, w: view.w * factor, h: view.h * factor};
    show();
  }
  function toGraph(event) {
    const box = svg.getBoundingClientRect();
    const scale = Math.max(view.w / box.width, view.h / box.height);
    return {x: view.x + (event.clientX - box.left) * scale,
      y: view.y + (event.clientY - box.top) * scale, scale: scale};
  }
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const p = toGraph(event);
    zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15, p.x, p.y);
  }, {passive: false});
  let drag = null;
  svg.addEventListener("pointerdown", (event) => {
    if (event.target.closest(".node")) return;
    drag = {x: event.clientX, y: event.clientY, view: Object.assign({}, view)};
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const box = svg.getBoundingClientRect();
    const scale = Math.max(view.w / box.width, view.h / box.height);
    view.x = drag.view.x - (event.clientX - drag.x) * scale;
    view.y = drag.view.y - (event.clientY - drag.y) * scale;
    show();
  });
  svg.addEventListener("pointerup", () => { drag = null; });
  document.getElementById("fit").addEventListener("click", () => { view = Object.assign({}, full); show(); });
  document.getElementById("zoom-in").addEventListener("click", () => zoom(1 / 1.3, view.x + view.w / 2, view.y + view.h / 2));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(1.3, view.x + view.w / 2, view.y + view.h / 2));

  const byName = {};
  const down = {};
  svg.querySelectorAll(".node").forEach((node) => {
    byName[node.dataset.name] = node;
    (node.dataset.up || "").split(" ").filter(Boolean).forEach((up) => {
      (down[up] = down[up] || []).push(node.dataset.name);
    });
  });
  function walk(start, next) {
    const seen = new Set([start]);
    const todo = [start];
    while (todo.length) {
      const name = todo.pop();
      (next(name) || []).forEach((n) => { if (!seen.has(n)) { seen.add(n); todo.push(n); } });
    }
    return seen;
  }
  function highlight(names) {
    svg.classList.toggle("focus", names !== null);
    Object.entries(byName).forEach(([name, node]) => {
      node.classList.toggle("hit", names !== null && names.has(name));
    });
    svg.querySelectorAll(".edge").forEach((edge) => {
      edge.classList.toggle("hit", names !== null && names.has(edge.dataset.from) &&
        names.has(edge.dataset.to));
    });
  }
  svg.addEventListener("click", (event) => {
    const node = event.target.closest(".node");
    if (!node || !event.shiftKey) return;
    event.preventDefault();
    const name = node.dataset.name;
    const ups = walk(name, (n) => (byName[n] ? (byName[n].dataset.up || "").split(" ").filter(Boolean) : []));
    const downs = walk(name, (n) => down[n]);
    highlight(new Set([...ups, ...downs]));
  });
  const search = document.getElementById("search");
  search.addEventListener("input", () => {
    const text = search.value.trim().toLowerCase();
    if (!text) { highlight(null); return; }
    highlight(new Set(Object.keys(byName).filter((n) => n.toLowerCase().includes(text))));
  });
  search.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    const first = svg.querySelector(".node.hit rect");
    if (!first) return;
    const x = Number(first.getAttribute("x"));
    const y = Number(first.getAttribute("y"));
    view = {x: x - 300, y: y - 200, w: 800, h: 500};
    show();
  });
  document.body.dataset.graphReady = "1";
})();
