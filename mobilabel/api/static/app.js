// The mobilabel review page: jobs, gallery with keyboard review, image page, models.
// Plain DOM, no framework; every view is a URL (?view=...&filters), every datum comes from /api.

const main = document.getElementById("main");
const statusLine = document.getElementById("status");
const params = new URLSearchParams(location.search);
const ENDED = new Set(["completed", "failed", "cancelled"]);
const PAGE_SIZE = 60;

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// One call to the API; JSON in (options.json) and out. A 401 shows the login form.
async function api(path, options = {}) {
  const init = { method: options.method || (options.json === undefined ? "GET" : "POST"), credentials: "same-origin", headers: {} };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (response.status === 401 && path !== "/api/session") {
    showLogin();
    throw new ApiError(401, "this server needs a token: log in");
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch { /* not JSON: keep the status text */ }
    throw new ApiError(response.status, detail);
  }
  return response.status === 204 ? null : response.json();
}

// h("a", {href: "x", onclick: f}, "text", child...): an element; text is always text, never HTML.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "style") el.style.cssText = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function say(message, isError = false) {
  statusLine.textContent = message;
  statusLine.className = isError ? "error" : "";
}

function url(query) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== null && value !== undefined && value !== "") search.set(key, value);
  return "?" + search.toString();
}

const percent = (x) => (x === null || x === undefined ? "" : `${(100 * x).toFixed(1)}%`);
const shortId = (id) => (id || "").slice(0, 12);
// With the fingerprint as ?v= the server lets the browser keep a thumbnail for a year: a changed file gets a new URL.
const thumbnail = (result, size = 256) =>
  `/api/results/${result.id}/thumbnail?size=${size}` + (result.content_id ? `&v=${encodeURIComponent(result.content_id)}` : "");

function showLogin() {
  if (document.getElementById("login")) return;
  const input = h("input", { type: "password", name: "token", autocomplete: "current-password", required: true, "aria-label": "API token" });
  const form = h("form", { id: "login", class: "card" }, h("h1", {}, "Log in"), h("p", {}, "This server needs its API token (MOBILABEL_API_TOKEN)."), input, h("button", { type: "submit" }, "Log in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/api/session", { json: { token: input.value } });
      location.reload();
    } catch (error) {
      say(error.message, true);
    }
  });
  main.replaceChildren(form);
  input.focus();
}

function progressBar(done, total) {
  const pct = total ? Math.min(100, Math.round((100 * done) / total)) : 0;
  return h("div", { class: "bar", role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100 },
    h("span", { style: `width:${pct}%` }), h("em", {}, `${done} / ${total}`));
}

// ---- Jobs -------------------------------------------------------------------------------------

async function jobsView() {
  const table = h("table", { class: "jobs" });
  const folder = h("input", { name: "folder", placeholder: "/absolute/folder/on/the/server", size: 50, "aria-label": "folder" });
  const form = h("form", { class: "inline" }, folder, h("button", { type: "submit" }, "Label folder"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const job = await api("/api/jobs", { json: { folder: folder.value } });
      say(`job ${job.id} started`);
      refresh();
    } catch (error) {
      say(error.message, true);
    }
  });
  main.replaceChildren(h("h1", {}, "Jobs"), form, table);
  async function refresh() {
    const jobs = await api("/api/jobs?limit=200");
    table.replaceChildren(
      h("tr", {}, ["Job", "Folder", "Status", "Progress", "Failed", "Rate", "ETA", ""].map((t) => h("th", {}, t))),
      ...jobs.map((job) => h("tr", { "data-job": job.id },
        h("td", {}, h("a", { href: url({ view: "job", id: job.id }) }, job.id)),
        h("td", { class: "path" }, job.root),
        h("td", {}, job.status),
        h("td", {}, progressBar(job.processed, job.total)),
        h("td", {}, job.failed),
        h("td", {}, job.rate === null ? "" : `${job.rate.toFixed(1)} img/s`),
        h("td", {}, job.eta_s === null ? "" : `${Math.ceil(job.eta_s)} s`),
        h("td", {}, h("a", { href: url({ view: "gallery", job: job.id, sort: "confidence" }) }, "review queue")))));
    if (jobs.some((job) => !ENDED.has(job.status))) setTimeout(() => refresh().catch((e) => say(e.message, true)), 1000);
  }
  await refresh();
}

async function jobView() {
  const id = params.get("id");
  const [job, labels, failures] = await Promise.all([
    api(`/api/jobs/${id}`), api(`/api/jobs/${id}/labels`), api(`/api/results?job=${id}&status=failed&limit=100`),
  ]);
  const ok = labels.filter((row) => row.status === "ok");
  const most = Math.max(1, ...ok.map((row) => row.images));
  const chart = h("div", { class: "chart", role: "list", "aria-label": "label distribution" }, ok.map((row) =>
    h("a", { class: "chart-row", role: "listitem", href: url({ view: "gallery", job: id, label: row.label, sort: "confidence" }) },
      h("span", { class: "chart-label" }, row.label),
      h("span", { class: "chart-bar", style: `width:${(70 * row.images) / most}%` }),
      h("span", {}, row.images))));
  main.replaceChildren(
    h("h1", {}, `Job ${job.id}: ${job.status}`),
    h("p", { class: "path" }, job.root),
    progressBar(job.processed, job.total),
    h("p", {}, h("a", { href: url({ view: "gallery", job: id }) }, "gallery"), " · ",
      h("a", { href: url({ view: "gallery", job: id, sort: "confidence" }) }, "review queue (least sure first)")),
    h("h2", {}, "Labels"), chart,
    h("h2", {}, `Failures (${job.failed})`),
    h("ul", { class: "failures" }, failures.items.map((r) => h("li", {}, h("span", { class: "path" }, r.image_path), ": ", r.error))));
  if (!ENDED.has(job.status)) setTimeout(() => jobView().catch((e) => say(e.message, true)), 1000);
}

// ---- Gallery and review -------------------------------------------------------------------------

const FILTERS = ["job", "label", "min_confidence", "max_confidence", "status", "version", "path", "sort"];

// Where the gallery's images come from: the results filters, one flip of a comparison, or one cell of a confusion matrix.
function gallerySource() {
  if (params.get("a") && params.get("b")) {
    const query = ["a", "b", "label_a", "label_b"].map((k) => `${k}=${encodeURIComponent(params.get(k) || "")}`).join("&");
    return { title: `Flip ${params.get("label_a")} → ${params.get("label_b")}`, byId: true, path: `/api/models/compare/images?${query}` };
  }
  if (params.get("confusion")) {
    const v = params.get("confusion");
    const query = `verified=${encodeURIComponent(params.get("verified") || "")}&predicted=${encodeURIComponent(params.get("predicted") || "")}`;
    return { title: `Verified ${params.get("verified")}, predicted ${params.get("predicted")}`, byId: true, path: `/api/models/${encodeURIComponent(v)}/confusion/images?${query}` };
  }
  const search = new URLSearchParams();
  for (const key of FILTERS) if (params.get(key)) search.set(key, params.get(key));
  return { title: "Gallery", byId: false, path: `/api/results?${search.toString()}` };
}

async function galleryView() {
  const source = gallerySource();
  const state = { items: [], next: undefined, selected: new Set(), anchor: null, review: null, undo: [] };
  const [corrections, versions] = await Promise.all([api("/api/corrections"), api("/api/models")]);
  // Verified labels belong to an image's content (its hash): the same photo under two paths shares one.
  const key = (item) => item.content_hash || item.image_path;
  const verified = new Map(corrections.filter((c) => c.state !== "stale").map((c) => [c.content_hash || c.image_path, c.label]));
  const classesOf = new Map(versions.map((v) => [v.id, v.classes]));
  const allClasses = [...new Set(versions.flatMap((v) => v.classes))].sort();

  const grid = h("div", { class: "grid", role: "list" });
  const progress = h("span", { id: "review-progress", "aria-live": "polite" });
  const more = h("button", { type: "button", id: "more" }, "More");
  const labelInput = h("input", { id: "bulk-label", list: "all-classes", placeholder: "label", "aria-label": "label for the selected images" });
  const datalist = h("datalist", { id: "all-classes" }, allClasses.map((c) => h("option", { value: c })));

  async function loadMore() {
    if (state.next === null) return;
    let page;
    if (source.byId) {
      const last = state.items.length ? state.items[state.items.length - 1].id : 0;
      const rows = await api(`${source.path}&limit=${PAGE_SIZE}&after=${last}`);
      page = { items: rows, next_cursor: rows.length === PAGE_SIZE ? "more" : null };
    } else {
      page = await api(`${source.path}&limit=${PAGE_SIZE}${state.next ? `&cursor=${encodeURIComponent(state.next)}` : ""}`);
    }
    for (const item of page.items) if (item.verified_label) verified.set(key(item), item.verified_label);
    state.items.push(...page.items);
    state.next = page.next_cursor;
    grid.append(...page.items.map(tile));
    more.hidden = state.next === null;
    showProgress();
  }

  function tile(item) {
    const figure = h("figure", { class: "tile", role: "listitem", tabindex: 0, "data-id": item.id },
      item.status === "ok" ? h("img", { src: thumbnail(item), loading: "lazy", alt: item.label || "", width: 160, height: 160 }) : h("div", { class: "no-image" }, "failed"),
      h("figcaption", {}));
    figure.addEventListener("click", (event) => select(item, event.shiftKey));
    figure.addEventListener("keydown", (event) => { if (event.key === " " && !state.review) { event.preventDefault(); select(item, event.shiftKey); } });
    figure.addEventListener("dblclick", () => { location.href = url({ view: "image", id: item.id }); });
    paintTile(figure, item);
    return figure;
  }

  function paintTile(figure, item) {
    const mark = verified.get(key(item));
    figure.classList.toggle("selected", state.selected.has(item.id));
    figure.classList.toggle("verified", mark !== undefined);
    figure.querySelector("figcaption").replaceChildren(
      h("a", { href: url({ view: "image", id: item.id }), class: "label" }, item.label || item.error || ""),
      h("span", { class: "confidence" }, percent(item.confidence)),
      mark === undefined ? "" : h("span", { class: "mark", title: "verified label" }, `✓ ${mark}`));
  }

  function repaint(item) {
    const figure = grid.querySelector(`[data-id="${item.id}"]`);
    if (figure) paintTile(figure, item);
  }

  function select(item, range) {
    const ids = state.items.map((i) => i.id);
    if (range && state.anchor !== null) {
      const [from, to] = [ids.indexOf(state.anchor), ids.indexOf(item.id)].sort((x, y) => x - y);
      for (const id of ids.slice(from, to + 1)) state.selected.add(id);
    } else {
      if (state.selected.has(item.id)) state.selected.delete(item.id);
      else state.selected.add(item.id);
      state.anchor = item.id;
    }
    state.items.forEach(repaint);
    showProgress();
  }

  function showProgress() {
    const reviewed = state.items.filter((i) => verified.has(key(i))).length;
    const remaining = state.items.length - reviewed;
    progress.textContent = `reviewed ${reviewed} / remaining ${remaining}${state.next ? "+" : ""} in this view · ${state.selected.size} selected`;
  }

  // Verify labels (a list of [item, label]); one undo step reverses them all.
  async function verify(changes) {
    const step = [];
    for (const [item, label] of changes) {
      await api("/api/corrections", { method: "PUT", json: { result_id: item.id, label } });
      step.push({ item, before: verified.get(key(item)) });
      verified.set(key(item), label);
      repaint(item);
    }
    if (step.length) state.undo.push(step);
    say(`verified ${changes.length} image${changes.length === 1 ? "" : "s"}`);
    showProgress();
  }

  async function undo() {
    const step = state.undo.pop();
    if (!step) return say("nothing to undo");
    for (const { item, before } of step.reverse()) {
      if (before === undefined) {
        await api(`/api/corrections?result_id=${item.id}`, { method: "DELETE" });
        verified.delete(key(item));
      } else {
        await api("/api/corrections", { method: "PUT", json: { result_id: item.id, label: before } });
        verified.set(key(item), before);
      }
      repaint(item);
    }
    if (state.review) state.review.show(state.items.indexOf(step[step.length - 1].item));
    say(`undone (${step.length})`);
    showProgress();
  }

  const chosen = () => state.items.filter((i) => state.selected.has(i.id));
  const toolbar = h("div", { class: "toolbar" },
    h("button", { type: "button", id: "select-all", onclick: () => { state.items.forEach((i) => state.selected.add(i.id)); state.items.forEach(repaint); showProgress(); } }, "Select all"),
    h("button", { type: "button", onclick: () => { state.selected.clear(); state.items.forEach(repaint); showProgress(); } }, "Clear"),
    h("button", { type: "button", id: "accept-selected", onclick: () => run(verify(chosen().filter((i) => i.label).map((i) => [i, i.label]))) }, "Accept selected"),
    labelInput, datalist,
    h("button", { type: "button", id: "assign-selected", onclick: () => { const label = labelInput.value.trim(); if (label) run(verify(chosen().map((i) => [i, label]))); else say("type a label first", true); } }, "Assign label"),
    h("button", { type: "button", id: "undo", onclick: () => run(undo()) }, "Undo"),
    h("button", { type: "button", id: "start-review", onclick: () => startReview() }, "Review (r)"),
    progress);

  function filterForm() {
    const field = (name, attrs = {}) => h("label", {}, name.replace("_", " "), h("input", { name, value: params.get(name) || "", ...attrs }));
    const sortSelect = h("select", { name: "sort" }, [["path", "path"], ["confidence", "confidence ↑ (review queue)"], ["-confidence", "confidence ↓"], ["label", "label"], ["-time", "newest"], ["time", "oldest"]]
      .map(([value, text]) => h("option", { value, selected: (params.get("sort") || "path") === value }, text)));
    const statusSelect = h("select", { name: "status" }, [["", "any"], ["ok", "ok"], ["failed", "failed"]]
      .map(([value, text]) => h("option", { value, selected: (params.get("status") || "") === value }, text)));
    const versionSelect = h("select", { name: "version" }, h("option", { value: "" }, "any"), versions.map((v) =>
      h("option", { value: v.id, selected: params.get("version") === v.id }, `${shortId(v.id)}${v.active ? " (active)" : ""}`)));
    const form = h("form", { id: "filters", class: "filters" },
      field("job", { size: 4, inputmode: "numeric" }), field("label", { list: "all-classes", size: 12 }),
      field("min_confidence", { size: 4, type: "number", step: "0.01", min: 0, max: 1 }), field("max_confidence", { size: 4, type: "number", step: "0.01", min: 0, max: 1 }),
      h("label", {}, "status", statusSelect), h("label", {}, "version", versionSelect), field("path", { size: 14, placeholder: "*/2024/*" }),
      h("label", {}, "sort", sortSelect), h("button", { type: "submit" }, "Apply"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const query = { view: "gallery" };
      for (const [key, value] of new FormData(form)) query[key] = value;
      location.search = url(query);  // a new URL: every view can be shared
    });
    return form;
  }

  function startReview() {
    if (!state.items.length) return say("nothing to review in this view");
    const first = state.items.findIndex((i) => i.status === "ok" && !verified.has(key(i)));
    state.review = reviewPanel(first < 0 ? 0 : first);
  }

  // The review panel: one image at a time, keyboard first.
  function reviewPanel(start) {
    let index = start;
    let matches = [];
    let queue = Promise.resolve();  // keys act in order, each on the image shown when its turn comes
    const act = (action) => { queue = queue.then(action).catch((error) => say(error.message, true)); };
    const image = h("img", { id: "review-image", alt: "" });
    const info = h("div", { class: "review-info" });
    const filter = h("input", { id: "class-filter", placeholder: "type to filter classes, Enter picks the first", autocomplete: "off", "aria-label": "filter classes" });
    const classList = h("ol", { class: "class-list" });
    const panel = h("section", { id: "review", class: "review", "aria-label": "review" },
      h("div", { class: "review-photo" }, image),
      h("div", { class: "review-side" }, info, filter, classList,
        h("p", { class: "keys" }, "Enter/a accept · 1-9 pick top-k · letters or / filter classes · Space/→ skip · ← back · u/Ctrl-Z undo · Esc close")));
    main.append(panel);

    const current = () => state.items[index];
    function classesFor(item) { return classesOf.get(item.model_version_id) || allClasses; }
    function show(i) {
      index = Math.max(0, Math.min(i, state.items.length - 1));
      const item = current();
      image.src = thumbnail(item, 512);
      image.alt = item.label || "";
      const mark = verified.get(key(item));
      info.replaceChildren(
        h("h2", {}, `${index + 1} / ${state.items.length}${state.next ? "+" : ""}`),
        h("p", { class: "path" }, item.image_path),
        h("p", {}, "predicted ", h("strong", { id: "predicted" }, item.label || "—"), ` ${percent(item.confidence)}`, mark === undefined ? "" : h("span", { class: "mark" }, ` ✓ ${mark}`)),
        h("ol", { class: "topk" }, (item.top_k || []).slice(0, 9).map((k, n) =>
          h("li", {}, h("kbd", {}, n + 1), " ", k.label, h("span", { class: "bar small" }, h("span", { style: `width:${100 * k.confidence}%` })), percent(k.confidence)))));
      filter.value = "";
      filter.blur();  // the next key is a command again
      listClasses();
      for (const next of state.items.slice(index + 1, index + 3)) new Image().src = thumbnail(next, 512);  // prefetched: the next one shows at once
      grid.querySelector(`[data-id="${item.id}"]`)?.scrollIntoView({ block: "nearest" });
      if (index >= state.items.length - 5 && state.next) loadMore().catch((e) => say(e.message, true));
    }
    function listClasses() {
      const typed = filter.value.trim().toLowerCase();
      matches = classesFor(current()).filter((c) => c.toLowerCase().includes(typed));
      classList.replaceChildren(...matches.slice(0, 12).map((c) => h("li", {}, c)));
    }
    async function decide(label) {
      const item = current();
      if (!label) return say("no label to accept here", true);
      await verify([[item, label]]);
      if (index + 1 < state.items.length) show(index + 1);
      else say("end of this view");
    }
    function close() {
      document.removeEventListener("keydown", onKey);
      panel.remove();
      state.review = null;
    }
    function onKey(event) {
      if (event.target === filter) {
        if (event.key === "Enter") { event.preventDefault(); const label = matches[0]; act(() => decide(label)); }
        else if (event.key === "Escape") { event.preventDefault(); filter.value = ""; filter.blur(); listClasses(); }
        return;
      }
      if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
      if ((event.key === "z" && (event.ctrlKey || event.metaKey)) || (event.key === "u" && !event.ctrlKey)) { event.preventDefault(); act(undo); }
      else if (event.ctrlKey || event.metaKey || event.altKey) return;
      else if (event.key === "Enter" || event.key === "a") { event.preventDefault(); act(() => decide(current().label)); }
      else if (/^[1-9]$/.test(event.key)) { event.preventDefault(); const n = Number(event.key) - 1; act(() => decide((current().top_k || [])[n]?.label)); }
      else if (event.key === " " || event.key === "ArrowRight") { event.preventDefault(); act(() => show(index + 1)); }
      else if (event.key === "ArrowLeft") { event.preventDefault(); act(() => show(index - 1)); }
      else if (event.key === "Escape") { event.preventDefault(); close(); }
      else if (event.key === "/") { event.preventDefault(); filter.focus(); }
      else if (/^[a-zA-Z]$/.test(event.key)) filter.focus();  // the letter then lands in the filter
    }
    filter.addEventListener("input", listClasses);
    document.addEventListener("keydown", onKey);
    show(start);
    return { show, close };
  }

  document.addEventListener("keydown", (event) => {
    if (state.review || event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
    if (event.key === "r") { event.preventDefault(); startReview(); }
    else if ((event.key === "z" && (event.ctrlKey || event.metaKey)) || event.key === "u") { event.preventDefault(); run(undo()); }
  });
  more.addEventListener("click", () => run(loadMore()));
  const sentinel = h("div", { class: "sentinel" });
  new IntersectionObserver((entries) => { if (entries[0].isIntersecting && state.next) run(loadMore()); }).observe(sentinel);

  main.replaceChildren(h("h1", {}, source.title), source.byId ? "" : filterForm(), toolbar, grid, more, sentinel);
  await loadMore();
  if (params.get("review") === "1") startReview();
}

// ---- Image page -------------------------------------------------------------------------------

async function imageView() {
  const id = params.get("id");
  const [result, byVersion, versions] = await Promise.all([api(`/api/results/${id}`), api(`/api/results/${id}/versions`), api("/api/models")]);
  const mark = result.verified_label === null ? null : { label: result.verified_label };
  const classes = versions.find((v) => v.id === result.model_version_id)?.classes || [];
  const input = h("input", { id: "correction-label", list: "image-classes", value: mark ? mark.label : "", "aria-label": "verified label" });
  const form = h("form", { class: "inline" }, input, h("datalist", { id: "image-classes" }, classes.map((c) => h("option", { value: c }))),
    h("button", { type: "submit" }, "Verify"),
    mark ? h("button", { type: "button", onclick: () => run(api(`/api/corrections?result_id=${id}`, { method: "DELETE" }).then(() => location.reload())) }, "Remove") : null);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(api("/api/corrections", { method: "PUT", json: { result_id: Number(id), label: input.value.trim() } }).then(() => location.reload()));
  });
  main.replaceChildren(
    h("h1", {}, result.label || "failed", " ", h("small", {}, percent(result.confidence))),
    h("div", { class: "image-page" },
      h("a", { href: `/api/results/${id}/image` }, h("img", { src: thumbnail(result, 512), alt: result.label || "", class: "photo" })),
      h("div", {},
        h("p", { class: "path" }, result.image_path),
        h("p", {}, "version ", h("a", { href: url({ view: "gallery", version: result.model_version_id }) }, shortId(result.model_version_id)),
          result.job_id ? [" · job ", h("a", { href: url({ view: "job", id: result.job_id }) }, result.job_id)] : ""),
        result.error ? h("p", { class: "error" }, result.error) : null,
        h("h2", {}, "Top-k"),
        h("ol", { class: "topk" }, (result.top_k || []).map((k) => h("li", {}, k.label, h("span", { class: "bar small" }, h("span", { style: `width:${100 * k.confidence}%` })), percent(k.confidence)))),
        h("h2", {}, "Verified label"), h("p", { id: "verified" }, mark ? mark.label : "none"), form,
        h("h2", {}, "By version"),
        h("table", {}, h("tr", {}, h("th", {}, "version"), h("th", {}, "label"), h("th", {}, "confidence")),
          byVersion.map((r) => h("tr", {}, h("td", {}, h("a", { href: url({ view: "image", id: r.id }) }, shortId(r.model_version_id))), h("td", {}, r.label || r.error), h("td", {}, percent(r.confidence))))))));
}

// ---- Models -----------------------------------------------------------------------------------

function matrix(cells, rowKey, colKey, link) {
  const rows = [...new Set(cells.map((c) => c[rowKey]))].sort();
  const cols = [...new Set(cells.map((c) => c[colKey]))].sort();
  const count = new Map(cells.map((c) => [`${c[rowKey]}\u0000${c[colKey]}`, c.images]));
  return h("table", { class: "matrix" },
    h("tr", {}, h("th", {}, `${rowKey} ↓ / ${colKey} →`), cols.map((c) => h("th", {}, c))),
    rows.map((r) => h("tr", {}, h("th", {}, r), cols.map((c) => {
      const n = count.get(`${r}\u0000${c}`);
      return h("td", { class: r === c ? "diagonal" : "" }, n ? h("a", { href: link(r, c) }, n) : "");
    }))));
}

async function modelsView() {
  const [versions, runs] = await Promise.all([api("/api/models"), api("/api/training-runs")]);
  const options = (selected) => versions.map((v) => h("option", { value: v.id, selected: v.id === selected }, `${shortId(v.id)} ${v.source.slice(0, 40)}`));
  const confirmThen = (question, promise) => { if (confirm(question)) run(promise().then(() => location.reload())); };
  const table = h("table", { class: "versions" },
    h("tr", {}, ["version", "arch", "classes", "val accuracy", "created", "active", "report", ""].map((t) => h("th", {}, t))),
    versions.map((v) => h("tr", { "data-version": v.id },
      h("td", { class: "path" }, h("a", { href: url({ view: "gallery", version: v.id, sort: "confidence" }) }, shortId(v.id))),
      h("td", {}, `${v.arch} α${v.alpha}`), h("td", {}, v.classes.length > 12 ? `${v.classes.length} classes` : v.classes.join(", ")),
      h("td", {}, percent(v.metrics.val_accuracy)), h("td", {}, new Date(v.created_at).toLocaleString()), h("td", {}, v.active ? "active" : ""),
      h("td", {}, v.metrics.epochs ? h("details", {}, h("summary", {}, "report"), h("img", { src: `/api/models/${v.id}/report.png`, loading: "lazy", alt: `training report of ${v.id}`, class: "report" })) : ""),
      h("td", {}, v.active ? "" : h("button", { type: "button", class: "activate", onclick: () => confirmThen(`Activate version ${shortId(v.id)}?`, () => api(`/api/models/${v.id}/activate`, { method: "POST" })) }, "Activate")))));
  const rollback = h("button", { type: "button", id: "rollback", onclick: () => confirmThen("Roll back to the version active before?", () => api("/api/models/rollback", { method: "POST" })) }, "Roll back");

  const a = params.get("compare_a") || versions[1]?.id;
  const b = params.get("compare_b") || versions[0]?.id;
  const selectA = h("select", { name: "compare_a", "aria-label": "version A" }, options(a));
  const selectB = h("select", { name: "compare_b", "aria-label": "version B" }, options(b));
  const compareForm = h("form", { id: "compare-form", class: "inline" }, selectA, " against ", selectB, h("button", { type: "submit" }, "Compare"));
  compareForm.addEventListener("submit", (event) => { event.preventDefault(); location.search = url({ view: "models", compare_a: selectA.value, compare_b: selectB.value, confusion: params.get("confusion") }); });
  const comparison = h("div", { id: "comparison" });
  if (params.get("compare_a") && params.get("compare_b")) {
    const result = await api(`/api/models/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    comparison.append(h("p", {}, `${result.images} images labelled by both, ${result.changed} changed label`),
      matrix(result.flips, "label_a", "label_b", (r, c) => url({ view: "gallery", a, b, label_a: r, label_b: c })));
  }

  const confusionVersion = params.get("confusion") || versions.find((v) => v.active)?.id;
  const selectC = h("select", { name: "confusion", "aria-label": "version" }, options(confusionVersion));
  const confusionForm = h("form", { id: "confusion-form", class: "inline" }, selectC, h("button", { type: "submit" }, "Against verified labels"));
  confusionForm.addEventListener("submit", (event) => { event.preventDefault(); location.search = url({ view: "models", confusion: selectC.value, compare_a: params.get("compare_a"), compare_b: params.get("compare_b") }); });
  const confusion = h("div", { id: "confusion" });
  if (params.get("confusion")) {
    const result = await api(`/api/models/${encodeURIComponent(confusionVersion)}/confusion`);
    confusion.append(h("p", {}, `${result.correct} of ${result.images} verified images right`),
      matrix(result.cells, "verified", "predicted", (r, c) => url({ view: "gallery", confusion: confusionVersion, verified: r, predicted: c })));
  }

  const dataDir = h("input", { name: "data_dir", size: 40, placeholder: "/absolute/data/dir", required: true, "aria-label": "data folder" });
  const epochs = h("input", { name: "epochs", type: "number", min: 1, value: 8, size: 3, "aria-label": "epochs" });
  const valFraction = h("input", { name: "val_fraction", type: "number", min: 0.01, max: 0.99, step: 0.01, placeholder: "0.2", size: 4, "aria-label": "validation fraction" });
  const withCorrections = h("input", { name: "include_corrections", type: "checkbox", checked: true });
  const force = h("input", { name: "force", type: "checkbox" });
  const trainForm = h("form", { id: "train-form", class: "inline" }, dataDir, h("label", {}, "epochs ", epochs), h("label", {}, "validation share ", valFraction),
    h("label", {}, withCorrections, " with verified labels"), h("label", {}, force, " promote even if not better"), h("button", { type: "submit" }, "Train"));
  trainForm.addEventListener("submit", (event) => {
    event.preventDefault();
    run(api("/api/training-runs", { json: { data_dir: dataDir.value, epochs: Number(epochs.value), val_fraction: valFraction.value ? Number(valFraction.value) : null, include_corrections: withCorrections.checked, force: force.checked } })
      .then((started) => { say(`training run ${started.id} started`); followRuns(); }));
  });
  const runsTable = h("table", { id: "runs" });
  function paintRuns(list) {
    runsTable.replaceChildren(h("tr", {}, ["run", "status", "progress", "version", "promoted", "error"].map((t) => h("th", {}, t))),
      ...list.map((r) => h("tr", { "data-run": r.id, "data-status": r.status }, h("td", {}, r.id), h("td", { class: "run-status" }, r.status),
        h("td", {}, r.progress ? Object.entries(r.progress).filter(([, v]) => typeof v !== "object").map(([k, v]) => `${k} ${typeof v === "number" ? Number(v.toFixed(3)) : v}`).join(", ") : ""),
        h("td", {}, r.version_id ? h("a", { href: url({ view: "gallery", version: r.version_id }) }, shortId(r.version_id)) : ""),
        h("td", {}, r.promoted === null ? "" : r.promoted ? "yes" : "no"), h("td", { class: "error" }, r.error || ""))));
  }
  async function followRuns() {
    const list = await api("/api/training-runs");
    paintRuns(list);
    if (list.some((r) => r.status === "queued" || r.status === "running")) setTimeout(() => followRuns().catch((e) => say(e.message, true)), 1000);
  }
  paintRuns(runs);
  if (runs.some((r) => r.status === "queued" || r.status === "running")) followRuns();

  main.replaceChildren(h("h1", {}, "Models"), table, rollback,
    h("h2", {}, "Compare two versions"), compareForm, comparison,
    h("h2", {}, "Confusion against verified labels"), confusionForm, confusion,
    h("h2", {}, "Train"), trainForm, runsTable);
}

// ---- Start ------------------------------------------------------------------------------------

function run(promise) {
  promise.catch((error) => say(error.message, true));
}

const VIEWS = { jobs: jobsView, job: jobView, gallery: galleryView, image: imageView, models: modelsView };
const view = VIEWS[params.get("view") || "jobs"] || jobsView;
document.querySelector(`nav a[data-view="${params.get("view") || "jobs"}"]`)?.setAttribute("aria-current", "page");
view().catch((error) => { if (error.status !== 401) say(error.message, true); });
