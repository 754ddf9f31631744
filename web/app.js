// The map page: the network's layers from the service's vector tiles, and tools that ask
// the service questions (dry-run conflict check, site scoring, compliance) by clicking.
// Everything it loads comes from the service itself (no CDN, no basemap unless one is
// configured with `territory serve --basemap URL`).
"use strict";

const ORIGIN = window.location.origin;
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31"];
const FORMAT_RADIUS = ["match", ["get", "format"], "flagship", 10, "elite", 9, "elite_lite", 8, "function", 7, "city_showroom", 6, "quick_service", 5, 6];
const SITE_COLOUR = ["match", ["get", "site_type"], "mall", "#2b6cb0", "auto_city", "#2f855a", "#718096"];
const INTERACTIVE = ["candidates-circle", "outlets-circle", "conflicts-fill", "grants-fill", "demand-fill", "regions-fill"];

const state = {
  network: null,
  partners: [],
  mode: "inspect",
  picked: new Map(), // adcode -> name
  vertices: [], // drawn polygon, [lon, lat]
  version: 0, // bumps tile URLs after a change (candidates after scoring)
  config: { basemap: null },
  hidden: new Set(),
};

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const num = (v, digits = 1) => (typeof v === "number" ? v.toLocaleString(undefined, { maximumFractionDigits: digits }) : esc(v));

/** The bearer token the user pasted (kept in this browser only), if the service needs one. */
const token = () => window.localStorage.getItem("territory.token") || "";
const authHeaders = () => (token() ? { authorization: `Bearer ${token()}` } : {});

async function api(path, options = {}) {
  const res = await fetch(path, { headers: { "content-type": "application/json", ...authHeaders() }, ...options });
  if (res.status === 401) {
    const given = window.prompt(t("askToken"));
    if (given) {
      window.localStorage.setItem("territory.token", given.trim());
      return api(path, options);
    }
  }
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const detail = body && body.detail ? body.detail : `${res.status}`;
    const where = body && Array.isArray(body.errors) ? body.errors.map((e) => `${e.pointer}: ${e.message}`).join("; ") : "";
    throw new Error(where ? `${detail} (${where})` : detail);
  }
  return body;
}

function tiles(layer) {
  return [`${ORIGIN}/tiles/${layer}/{z}/{x}/{y}.mvt?v=${state.version}`];
}

function partnerColour() {
  const expr = ["match", ["get", "partner_id"]];
  state.partners.forEach((p, i) => expr.push(p.id, PALETTE[i % PALETTE.length]));
  expr.push("#999999");
  return state.partners.length ? expr : "#999999";
}

/** The whole style for the selected network. */
function style() {
  const net = state.network;
  const sources = {
    regions: { type: "vector", tiles: tiles("regions"), maxzoom: 14 },
    grants: { type: "vector", tiles: tiles(`${net}.grants`), maxzoom: 14 },
    conflicts: { type: "vector", tiles: tiles(`${net}.conflicts`), maxzoom: 14 },
    outlets: { type: "vector", tiles: tiles(`${net}.outlets`), maxzoom: 14 },
    demand: { type: "vector", tiles: tiles(`${net}.demand`), maxzoom: 14 },
    candidates: { type: "vector", tiles: tiles(`${net}.candidates`), maxzoom: 14 },
    check: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
    sketch: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
  };
  const layers = [{ id: "background", type: "background", paint: { "background-color": "#f4f1ea" } }];
  if (state.config.basemap) {
    sources.basemap = { type: "raster", tiles: [state.config.basemap], tileSize: 256 };
    layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  // Average demand per res-8 cell, whatever resolution the tile summed cells into.
  const perCell = ["/", ["get", "demand"], ["^", 7, ["-", 8, ["get", "resolution"]]]];
  layers.push(
    { id: "demand-fill", type: "fill", source: "demand", "source-layer": "demand",
      paint: { "fill-color": ["interpolate", ["linear"], ["ln", ["+", 1, perCell]], 0, "rgba(255,255,204,0)", 0.5, "#ffffcc", 1.5, "#fd8d3c", 3, "#bd0026"], "fill-opacity": 0.55 } },
    { id: "regions-fill", type: "fill", source: "regions", "source-layer": "regions", paint: { "fill-color": "#000", "fill-opacity": 0 } },
    { id: "regions-district", type: "line", source: "regions", "source-layer": "regions", filter: ["==", ["get", "level"], "district"], paint: { "line-color": "#b8b3a8", "line-width": 0.5 } },
    { id: "regions-city", type: "line", source: "regions", "source-layer": "regions", filter: ["==", ["get", "level"], "city"], paint: { "line-color": "#8a857a", "line-width": 1 } },
    { id: "regions-province", type: "line", source: "regions", "source-layer": "regions", filter: ["==", ["get", "level"], "province"], paint: { "line-color": "#4a4740", "line-width": 1.6 } },
    { id: "grants-fill", type: "fill", source: "grants", "source-layer": "grants", filter: ["==", ["get", "status"], "active"],
      paint: { "fill-color": partnerColour(), "fill-opacity": ["case", ["get", "exclusive"], 0.38, 0.14] } },
    { id: "grants-line-exclusive", type: "line", source: "grants", "source-layer": "grants", filter: ["all", ["==", ["get", "status"], "active"], ["get", "exclusive"]],
      paint: { "line-color": partnerColour(), "line-width": 2 } },
    { id: "grants-line-shared", type: "line", source: "grants", "source-layer": "grants", filter: ["all", ["==", ["get", "status"], "active"], ["!", ["get", "exclusive"]]],
      paint: { "line-color": partnerColour(), "line-width": 1.5, "line-dasharray": [3, 2] } },
    { id: "conflicts-fill", type: "fill", source: "conflicts", "source-layer": "conflicts", paint: { "fill-color": "#e53e3e", "fill-opacity": 0.7 } },
    { id: "outlets-circle", type: "circle", source: "outlets", "source-layer": "outlets", filter: ["==", ["get", "status"], "open"],
      paint: { "circle-radius": FORMAT_RADIUS, "circle-color": ["case", ["get", "competitor"], "#ffffff", SITE_COLOUR],
        "circle-stroke-color": ["case", ["get", "competitor"], "#000000", "#ffffff"], "circle-stroke-width": 1.5 } },
    { id: "candidates-circle", type: "circle", source: "candidates", "source-layer": "candidates",
      paint: { "circle-radius": ["interpolate", ["linear"], ["max", 0, ["get", "net_gain"]], 0, 4, 500, 10, 5000, 22],
        "circle-color": ["case", ["get", "allowed"], "#805ad5", "#a0aec0"], "circle-opacity": 0.75, "circle-stroke-color": "#44337a", "circle-stroke-width": 1 } },
    { id: "check-fill", type: "fill", source: "check", filter: ["==", ["get", "kind"], "conflict"], paint: { "fill-color": "#c53030", "fill-opacity": 0.6 } },
    { id: "check-line", type: "line", source: "check", paint: { "line-color": ["match", ["get", "kind"], "conflict", "#9b2c2c", "#b7791f"], "line-width": 2.5 } },
    { id: "sketch-fill", type: "fill", source: "sketch", filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#f6e05e", "fill-opacity": 0.35 } },
    { id: "sketch-line", type: "line", source: "sketch", paint: { "line-color": "#b7791f", "line-width": 2 } },
    { id: "sketch-point", type: "circle", source: "sketch", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 5, "circle-color": "#b7791f" } },
  );
  for (const l of layers) {
    if (state.hidden.has(groupOf(l.id))) l.layout = { ...(l.layout || {}), visibility: "none" };
  }
  return { version: 8, sources, layers };
}

const GROUPS = [["regions", "lyrRegions"], ["demand", "lyrDemand"], ["grants", "lyrGrants"], ["conflicts", "lyrConflicts"], ["outlets", "lyrOutlets"], ["candidates", "lyrCandidates"]];
function groupOf(layerId) {
  return layerId.split("-")[0];
}

const map = new maplibregl.Map({
  container: "map", style: { version: 8, sources: {}, layers: [] }, center: [112.5, 28.5], zoom: 4.6, hash: true, attributionControl: false,
  // Tiles carry the token too when the service needs one.
  transformRequest: (url) => (token() && url.startsWith(ORIGIN) ? { url, headers: authHeaders() } : { url }),
});
map.addControl(new maplibregl.NavigationControl(), "top-left");
map.addControl(new maplibregl.ScaleControl(), "bottom-left");
window.territory = { map, state };

function translate() {
  document.documentElement.lang = window.LANG === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

function renderToggles() {
  $("layer-toggles").innerHTML = GROUPS.map(([g, key]) =>
    `<label><input type="checkbox" data-group="${g}" ${state.hidden.has(g) ? "" : "checked"}> ${esc(t(key))}</label>`).join("");
  for (const box of $("layer-toggles").querySelectorAll("input")) {
    box.addEventListener("change", () => {
      const g = box.dataset.group;
      if (box.checked) state.hidden.delete(g); else state.hidden.add(g);
      for (const l of map.getStyle().layers) {
        if (groupOf(l.id) === g) map.setLayoutProperty(l.id, "visibility", box.checked ? "visible" : "none");
      }
    });
  }
}

function renderLegend() {
  const rows = state.partners.map((p, i) =>
    `<div><span class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(p.name)} <small>(${esc(p.tier)})</small></div>`);
  rows.push(
    `<div><span class="swatch" style="background:#ddd;border-width:2px"></span>${esc(t("exclusive"))} — <span class="swatch" style="background:#f4f4f4;border-style:dashed"></span>${esc(t("nonExclusive"))}</div>`,
    `<div><span class="swatch" style="background:#e53e3e"></span>${esc(t("conflict"))}</div>`,
    `<div><span class="dot" style="background:#2b6cb0"></span>${esc(t("site_mall"))} <span class="dot" style="background:#2f855a"></span>${esc(t("site_auto_city"))} <span class="dot" style="background:#fff;border:1.5px solid #000"></span>${esc(t("competitorOutlet"))}</div>`,
    `<div><span class="dot" style="background:#805ad5"></span>${esc(t("candidateSize"))} <span class="dot" style="background:#a0aec0"></span>${esc(t("notAllowed"))}</div>`,
    `<div><span class="swatch" style="background:linear-gradient(90deg,#ffffcc,#fd8d3c,#bd0026)"></span>${esc(t("lyrDemand"))}: ${esc(t("demandLow"))} → ${esc(t("demandHigh"))}</div>`,
  );
  $("legend-body").innerHTML = rows.join("");
}

async function selectNetwork(code) {
  state.network = code;
  state.partners = (await api(`/networks/${code}/partners`)).partners;
  $("partner").innerHTML = `<option value="">${esc(t("noPartner"))}</option>` +
    state.partners.map((p) => `<option value="${p.id}">${esc(p.name)} (${esc(p.tier)})</option>`).join("");
  clearTool();
  map.setStyle(style());
  renderLegend();
}

function refreshCandidates() {
  state.version += 1;
  const source = map.getSource("candidates");
  if (source && source.setTiles) source.setTiles(tiles(`${state.network}.candidates`));
}

function setMode(mode) {
  state.mode = mode;
  for (const b of document.querySelectorAll("#modes button[data-mode]")) b.classList.toggle("active", b.dataset.mode === mode);
  clearTool();
  $("tool").hidden = mode === "inspect";
  $("run-check").hidden = !(mode === "pick" || mode === "draw");
  $("tool-hint").textContent = t({ inspect: "hintInspect", pick: "hintPick", draw: "hintDraw", score: "hintScore" }[mode]);
  map.getCanvas().style.cursor = mode === "inspect" ? "" : "crosshair";
}

function setSketch(features) {
  const source = map.getSource("sketch");
  if (source) source.setData({ type: "FeatureCollection", features });
}

function setCheck(features) {
  const source = map.getSource("check");
  if (source) source.setData({ type: "FeatureCollection", features });
}

function clearTool() {
  state.picked.clear();
  state.vertices = [];
  $("picked").innerHTML = "";
  setSketch([]);
  setCheck([]);
}

function showError(e) {
  $("result").innerHTML = `<p class="error">${esc(t("error"))}: ${esc(e.message)}</p>`;
}

function selectedPartner() {
  const id = $("partner").value;
  return id ? Number(id) : null;
}

function drawSketch() {
  const v = state.vertices;
  const features = v.map((c) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: c } }));
  if (v.length >= 2) features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: v } });
  if (v.length >= 3) features.push({ type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [[...v, v[0]]] } });
  setSketch(features);
}

function pick(feature) {
  const p = feature.properties;
  if (p.level === "province") return;
  if (state.picked.has(p.adcode)) state.picked.delete(p.adcode); else state.picked.set(p.adcode, p.name);
  $("picked").innerHTML = [...state.picked].map(([code, name]) => `<span data-adcode="${esc(code)}">${esc(name)} ${esc(code)}</span>`).join("");
}

async function runCheck() {
  const partner = selectedPartner();
  if (partner === null) return showError(new Error(t("needPartner")));
  let body;
  if (state.mode === "pick" && state.picked.size) body = { partner_id: partner, adcodes: [...state.picked.keys()] };
  else if (state.mode === "draw" && state.vertices.length >= 3) body = { partner_id: partner, geometry: { type: "Polygon", coordinates: [[...state.vertices, state.vertices[0]]] } };
  else return showError(new Error(t("nothingPicked")));
  try {
    const answer = await api(`/networks/${state.network}/grants/check`, { method: "POST", body: JSON.stringify(body) });
    const features = [
      ...answer.conflicts.map((c) => ({ type: "Feature", properties: { kind: "conflict", grant_id: c.grant_id }, geometry: c.geometry })),
      ...answer.warnings.map((c) => ({ type: "Feature", properties: { kind: "warning", grant_id: c.grant_id }, geometry: c.geometry })),
    ];
    setCheck(features);
    const rows = (list) => list.map((c) => `<tr><td>${c.grant_id ?? "–"}</td><td>${esc(c.partner_name ?? t("anonymous"))}</td><td class="num">${num(c.overlap_km2, 2)}</td><td class="num">${num(c.overlap_ratio * 100, 1)} %</td><td>${esc(c.basis)}</td></tr>`).join("");
    const head = `<tr><th>${esc(t("grant"))}</th><th>${esc(t("holder"))}</th><th>${esc(t("overlap"))}</th><th>${esc(t("ratio"))}</th><th>${esc(t("basis"))}</th></tr>`;
    let html = answer.ok ? `<p class="ok" data-testid="check-ok">${esc(t("checkOk"))}</p>` : `<p class="bad" data-testid="check-refused">${esc(t("checkConflicts"))}</p>`;
    if (answer.conflicts.length) html += `<table data-testid="conflicts">${head}${rows(answer.conflicts)}</table>`;
    if (answer.warnings.length) html += `<p>${esc(t("warnings"))}</p><table>${head}${rows(answer.warnings)}</table>`;
    $("result").innerHTML = html;
  } catch (e) {
    showError(e);
  }
}

async function scoreAt(lngLat) {
  const partner = selectedPartner();
  const body = { candidates: [{ id: "site", location: { type: "Point", coordinates: [lngLat.lng, lngLat.lat] } }] };
  if (partner !== null) body.partner_id = partner;
  setSketch([{ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [lngLat.lng, lngLat.lat] } }]);
  try {
    const answer = await api(`/networks/${state.network}/score`, { method: "POST", body: JSON.stringify(body) });
    const c = answer.candidates[0];
    const types = c.by_site_type ? Object.keys(c.by_site_type) : [c.site_type];
    const col = (st) => (c.by_site_type ? c.by_site_type[st] : c);
    const figures = ["expected_sales", "cannibalised", "net_gain", "competitor_loss", "catchment_demand"];
    let html = `<p>${lngLat.lng.toFixed(4)}, ${lngLat.lat.toFixed(4)}</p><table data-testid="score"><tr><th>${esc(t("siteType"))}</th>` +
      types.map((st) => `<th data-site-type="${esc(st)}">${esc(t(st))}${st === c.best_site_type ? ` (${esc(t("best"))})` : ""}</th>`).join("") + "</tr>";
    for (const f of figures) html += `<tr><td>${esc(t(f))}</td>${types.map((st) => `<td class="num">${num(col(st)[f])}</td>`).join("")}</tr>`;
    html += `<tr><td>${esc(t("recommended_format"))}</td>${types.map((st) => `<td>${esc(col(st).recommended_format ?? c.format ?? "")}</td>`).join("")}</tr></table>`;
    if (c.in_territory !== null && c.in_territory !== undefined) html += `<p>${esc(t("inTerritory"))}: <b>${esc(t(c.in_territory ? "yes" : "no"))}</b></p>`;
    html += `<p>${esc(t("allowed"))}: <b class="${c.allowed ? "ok" : "bad"}">${esc(t(c.allowed ? "yes" : "no"))}</b></p>`;
    if (c.blocking_grants && c.blocking_grants.length) html += `<p>${esc(t("blockedBy"))}: ${c.blocking_grants.map((g) => `${esc(t("grant"))} ${g.grant_id ?? "–"} (${esc(g.partner_name ?? t("anonymous"))})`).join(", ")}</p>`;
    $("result").innerHTML = html;
    refreshCandidates();
  } catch (e) {
    showError(e);
  }
}

async function compliance() {
  const partner = selectedPartner();
  try {
    const r = await api(`/networks/${state.network}/compliance${partner !== null ? `?partner_id=${partner}` : ""}`);
    let html = `<p class="${r.compliant ? "ok" : "bad"}" data-testid="compliance">${esc(r.compliant ? t("compliant") : `${t("breaches")}: ${r.breaches.length}`)}</p>`;
    if (r.breaches.length) {
      html += "<table>" + r.breaches.map((b) => `<tr><td>${esc(b.rule)}</td><td>${esc(b.outlet_name ?? (b.grant_id ? `${t("grant")} ${b.grant_id}` : ""))}<br><small>${esc(b.detail)}</small></td></tr>`).join("") + "</table>";
    }
    html += "<table>" + r.partners.map((p) => `<tr><td>${esc(p.partner_name)}</td><td class="num">${esc(t("outlets"))}: ${p.outlets}</td><td class="num">${esc(t("breaches"))}: ${p.breaches}</td></tr>`).join("") + "</table>";
    $("result").innerHTML = html;
  } catch (e) {
    showError(e);
  }
}

function popup(lngLat, feature) {
  const rows = Object.entries(feature.properties)
    .filter(([, v]) => v !== null && v !== "")
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(typeof v === "number" ? num(v, 3) : v)}</td></tr>`).join("");
  new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(lngLat).setHTML(`<b>${esc(feature.layer.id.split("-")[0])}</b><table>${rows}</table>`).addTo(map);
}

map.on("click", (e) => {
  if (state.mode === "score") return void scoreAt(e.lngLat);
  if (state.mode === "draw") {
    const v = state.vertices;
    if (v.length >= 3) {
      const first = map.project(v[0]);
      if (Math.hypot(first.x - e.point.x, first.y - e.point.y) < 8) return void runCheck();
    }
    v.push([e.lngLat.lng, e.lngLat.lat]);
    return void drawSketch();
  }
  const layers = INTERACTIVE.filter((id) => map.getLayer(id));
  const hits = map.queryRenderedFeatures(e.point, { layers });
  if (state.mode === "pick") {
    const regions = hits.filter((f) => f.layer.id === "regions-fill");
    // The finest unit under the click: a district if drawn at this zoom, else its city.
    const order = { district: 0, city: 1, province: 2 };
    regions.sort((a, b) => order[a.properties.level] - order[b.properties.level]);
    if (regions.length) pick(regions[0]);
    return;
  }
  const first = hits.find((f) => f.layer.id !== "regions-fill") || hits[0];
  if (first) popup(e.lngLat, first);
});

$("network").addEventListener("change", (e) => selectNetwork(e.target.value).catch(showError));
for (const b of document.querySelectorAll("#modes button[data-mode]")) b.addEventListener("click", () => setMode(b.dataset.mode));
$("compliance").addEventListener("click", compliance);
$("run-check").addEventListener("click", runCheck);
$("clear").addEventListener("click", () => { clearTool(); $("result").innerHTML = ""; });

async function start() {
  translate();
  renderToggles();
  try {
    state.config = await api("/map/config");
    const networks = (await api("/networks")).networks;
    $("network").innerHTML = networks.map((n) => `<option value="${esc(n.code)}">${esc(n.name)} (${esc(n.code)})</option>`).join("");
    const wanted = new URLSearchParams(window.location.search).get("network");
    const first = networks.find((n) => n.code === wanted) || networks[0];
    if (first) {
      $("network").value = first.code;
      await selectNetwork(first.code);
    }
  } catch (e) {
    showError(e);
  }
  map.once("idle", () => { document.body.dataset.ready = "1"; });
}

start();
