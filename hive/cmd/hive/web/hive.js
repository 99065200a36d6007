// hive web's page: it draws each picture that /pictures sends (twice a
// second), keeping an element per service and per bee, so that a bee that
// comes can grow in and a bee that goes can fade out.
"use strict";

const servicesEl = document.getElementById("services");
const live = document.getElementById("live");
let frames = 0;

const icons = { joined: "+", left: "−", down: "✕", dead: "☠", failed: "!" };
const leaveMs = 700; // as long as the fade-out in style.css

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

// rate writes a number per second as people read it: 0, 0.4, 12.
function rate(n) {
  if (n === 0) return "0";
  return n < 10 ? n.toFixed(1) : Math.round(n).toString();
}

// ms writes a latency in milliseconds: 0.4, 12.
function ms(n) {
  return n >= 10 ? Math.round(n).toString() : n.toFixed(1);
}

function beeElement(inst) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "-50 -55 100 110");
  svg.setAttribute("aria-hidden", "true");
  svg.innerHTML = '<polygon points="0,-50 43,-25 43,25 0,50 -43,25 -43,-25"/>' +
    '<path class="x" d="M-22,-22 L22,22 M22,-22 L-22,22"/>';
  const bee = el("div", { class: "bee new", "data-instance": inst.id });
  bee.append(svg, el("div", { class: "id" }));
  setTimeout(() => bee.classList.remove("new"), leaveMs);
  return bee;
}

// leave fades an element out and then removes it.
function leave(e) {
  if (e.classList.contains("leaving")) return;
  e.classList.add("leaving");
  e.dataset.state = "gone";
  setTimeout(() => e.remove(), leaveMs);
}

function drawService(s, edges) {
  let card = servicesEl.querySelector(`.service[data-service="${CSS.escape(s.name)}"]:not(.leaving)`);
  if (!card) {
    card = el("article", { class: "service", "data-service": s.name },
      el("h2", {}, el("span", { class: "name" }), el("span", { class: "count" })),
      el("p", { class: "rates" }),
      el("ul", { class: "edges" }),
      el("div", { class: "bees" }));
    servicesEl.append(card);
  }
  const up = s.instances.filter(i => i.up).length;
  card.querySelector(".name").textContent = s.name;
  card.querySelector(".count").textContent =
    up === s.instances.length ? `${up} ${up === 1 ? "bee" : "bees"}` : `${up} of ${s.instances.length} bees answer`;
  const rates = card.querySelector(".rates");
  rates.replaceChildren(
    el("b", {}, rate(s.calls_per_s)), " calls/s · ",
    el("b", { class: s.errors_per_s > 0 ? "bad" : "" }, rate(s.errors_per_s)), " errors/s · ",
    el("b", {}, rate(s.handled_per_s)), " events/s",
    ...(s.failed_per_s > 0 ? [" · ", el("b", { class: "bad" }, rate(s.failed_per_s)), " failing/s"] : []),
    ...(s.p99_ms > 0 ? [" · p99 ", el("b", {}, ms(s.p99_ms)), " ms"] : []));

  // The calls it makes, to each service it calls: the edges of the hive.
  card.querySelector(".edges").replaceChildren(...edges.filter(e => e.from === s.name).map(e =>
    el("li", { "data-edge": `${e.from}→${e.to}` }, "→ ", el("b", { class: "to" }, e.to), " ",
      el("b", {}, rate(e.calls_per_s)), " calls/s · ",
      el("b", { class: e.errors_per_s > 0 ? "bad" : "" }, rate(e.errors_per_s)), " errors/s",
      ...(e.p99_ms > 0 ? [" · p99 ", el("b", {}, ms(e.p99_ms)), " ms"] : []))));

  const bees = card.querySelector(".bees");
  const ids = new Set(s.instances.map(i => i.id));
  for (const b of bees.querySelectorAll(".bee:not(.leaving)")) {
    if (!ids.has(b.dataset.instance)) leave(b);
  }
  for (const inst of s.instances) {
    let b = bees.querySelector(`.bee[data-instance="${CSS.escape(inst.id)}"]:not(.leaving)`);
    if (!b) {
      b = beeElement(inst);
      bees.append(b);
    }
    b.dataset.state = inst.up ? "up" : "down";
    b.dataset.pid = inst.pid || "";
    b.title = `${inst.id} at ${inst.endpoint}` + (inst.pid ? `, pid ${inst.pid}` : "") + (inst.up ? "" : ": does not answer");
    b.querySelector(".id").textContent = inst.id.startsWith(s.name + "-") ? inst.id.slice(s.name.length + 1) : inst.id;
  }
}

function drawQueues(queues) {
  const rows = queues.map(q => {
    if (q.error) {
      return el("tr", { "data-queue": q.subscription }, el("td", {}, q.subscription), el("td", { class: "error", colspan: "3" }, q.error));
    }
    return el("tr", { "data-queue": q.subscription },
      el("td", {}, q.subscription),
      el("td", { class: q.ready > 0 ? "busy" : "" }, String(q.ready)),
      el("td", {}, String(q.consumers)),
      el("td", { class: q.dead > 0 ? "dead" : "", "data-dead": String(q.dead) }, String(q.dead)));
  });
  if (rows.length === 0) {
    rows.push(el("tr", {}, el("td", { class: "empty", colspan: "4" }, "no subscription yet")));
  }
  document.querySelector("#queues tbody").replaceChildren(...rows);
}

function drawTimeline(moments) {
  document.getElementById("timeline").replaceChildren(...moments.slice(0, 14).map(m =>
    el("li", { "data-kind": m.kind },
      el("time", { datetime: m.time }, new Date(m.time).toLocaleTimeString([], { hour12: false })),
      el("span", { class: "icon", "aria-label": m.kind }, icons[m.kind] || "·"),
      el("span", {}, m.text))));
}

function draw(p) {
  frames++;
  document.body.dataset.frames = frames; // for the browser test: the page is live
  document.getElementById("namespace").textContent = p.namespace;
  document.title = `hive ${p.namespace}`;
  const names = new Set(p.services.map(s => s.name));
  for (const card of servicesEl.querySelectorAll(".service:not(.leaving)")) {
    if (!names.has(card.dataset.service)) leave(card);
  }
  p.services.forEach(s => drawService(s, p.edges));
  document.getElementById("no-services").hidden = p.services.length > 0;
  drawQueues(p.queues);
  drawTimeline(p.timeline);
  document.getElementById("notes").replaceChildren(...(p.notes || []).map(n => el("p", {}, n)));
  live.dataset.live = "true";
  live.textContent = `live · ${p.viewers} ${p.viewers === 1 ? "viewer" : "viewers"}`;
}

// EventSource connects again by itself when hive web comes back.
const source = new EventSource("pictures");
source.onmessage = e => draw(JSON.parse(e.data));
source.onerror = () => {
  live.dataset.live = "false";
  live.textContent = "hive web is not answering: trying again";
};
