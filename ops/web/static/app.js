"use strict";
// The console page: three screens (new job, a job, history) over the console's JSON API. No framework:
// the page is small, and it must work offline.

const TEXT = {
  ko: {
    navNew: "새 분석", navHistory: "기록", newTitle: "새 분석", dropHint: "CSV 또는 Excel 파일을 여기에 놓거나 선택하세요",
    question: "질문", reportLanguage: "보고서 언어", languageAuto: "질문에 맞춤", reviewPlan: "계획을 먼저 검토",
    start: "분석 시작", cancel: "중지", planTitle: "계획 검토", approve: "승인", revise: "수정한 계획으로 진행",
    downloads: "내려받기", historyTitle: "지난 분석", session: "세션", state: "상태", rows: "행",
    running: "진행 중", complete: "완료", error: "오류", stopped: "중단됨", cancelled: "중지됨",
    needFile: "파일을 하나 이상 놓으세요", needQuestion: "질문을 쓰세요", tokens: "토큰", open: "열기", rowsUnknown: "행 수 모름",
    other: "English",
  },
  en: {
    navNew: "New analysis", navHistory: "History", newTitle: "New analysis", dropHint: "Drop CSV or Excel files here, or choose them",
    question: "Question", reportLanguage: "Report language", languageAuto: "Same as the question", reviewPlan: "Review the plan first",
    start: "Start", cancel: "Cancel", planTitle: "Plan review", approve: "Approve", revise: "Go on with my edited plan",
    downloads: "Downloads", historyTitle: "Past analyses", session: "Session", state: "State", rows: "rows",
    running: "running", complete: "complete", error: "error", stopped: "stopped", cancelled: "cancelled",
    needFile: "Drop at least one file", needQuestion: "Write a question", tokens: "tokens", open: "open", rowsUnknown: "rows not counted",
    other: "한국어",
  },
};
let lang = (localStorage.getItem("lang") || navigator.language || "ko").startsWith("ko") ? "ko" : "en";
const t = (key) => TEXT[lang][key] || key;
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
};

function translate() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("ui-language").textContent = t("other");
}

async function api(method, path, body, raw) {
  const options = { method, headers: {} };
  if (raw !== undefined) options.body = raw;
  else if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
  const response = await fetch(path, options);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

// --- new job ---
let uploads = [];

async function addFiles(files) {
  $("new-problem").textContent = "";
  for (const file of files) {
    try {
      const shown = await api("PUT", `/api/uploads/${encodeURIComponent(file.name)}`, undefined, file);
      uploads = uploads.filter((u) => u.name !== shown.name).concat([shown]);
    } catch (error) {
      $("new-problem").textContent = error.message;
    }
  }
  renderPreviews();
}

function renderPreviews() {
  const box = $("previews");
  box.replaceChildren();
  for (const u of uploads) {
    const head = el("tr", {}, ...u.columns.map((c) => el("th", {}, c)));
    const rows = u.rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))));
    box.append(el("div", { class: "preview", "data-testid": "preview" },
      el("strong", {}, `${u.name} · ${u.rowCount === null ? t("rowsUnknown") : `${u.rowCount.toLocaleString()} ${t("rows")}`}`),
      el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows))));
  }
}

async function startJob() {
  const question = $("question").value.trim();
  if (!uploads.length) { $("new-problem").textContent = t("needFile"); return; }
  if (!question) { $("new-problem").textContent = t("needQuestion"); return; }
  $("start").disabled = true;
  try {
    const { sessionId } = await api("POST", "/api/jobs", {
      question, uploads: uploads.map((u) => u.id), language: $("language").value || null, review: $("review").checked,
    });
    uploads = [];
    renderPreviews();
    $("question").value = "";
    location.hash = `#/job/${sessionId}`;
  } catch (error) {
    $("new-problem").textContent = error.message;
  } finally {
    $("start").disabled = false;
  }
}

// --- a job ---
let source = null;
let clock = null;

function openJob(sid) {
  if (source) source.close();
  clearInterval(clock);
  for (const id of ["timeline", "charts", "downloads"]) $(id).replaceChildren();
  for (const id of ["review-panel", "results", "report"]) $(id).hidden = true;
  $("job-session").textContent = sid;
  $("job-tokens").textContent = "";
  setState("running");
  api("GET", `/api/jobs/${sid}`).then((job) => { $("job-question").textContent = job.question; });
  let first = null;
  let agentText = null;
  clock = setInterval(() => {
    if (first) $("job-clock").textContent = minutes((Date.now() - first) / 1000);
  }, 500);
  source = new EventSource(`/api/jobs/${sid}/events`);
  source.onmessage = (message) => {
    const e = JSON.parse(message.data);
    if (!first && e.ts) first = Date.parse(e.ts);
    switch (e.type) {
      case "keepalive": return;
      case "text":
        if (!agentText || agentText.dataset.agent !== e.agent) {
          agentText = line(`${e.agent}: `, "text");
          agentText.dataset.agent = e.agent;
        }
        agentText.textContent += e.text;
        return;
      case "agent": agentText = null; line(`${e.state === "started" ? "▶" : "✓"} ${e.agent} ${e.state}`, "agent"); return;
      case "tool": {
        agentText = null;
        const input = e.input || {};
        const body = input.code || input.command || JSON.stringify(input, null, 2);
        const item = line(`${e.agent} → ${e.tool}`, "tool");
        item.append(el("details", {}, el("summary", {}, "code"), el("pre", {}, body)));
        return;
      }
      case "tool_result":
        if (e.status !== "success") line(`${e.tool}: ${e.status}`, "error");
        showNewCharts(sid);
        return;
      case "status": line(`· ${e.phase}`, "status"); return;
      case "audit": line(e.passed ? `✓ audit (${e.attempt})` : `✗ audit (${e.attempt}): ${e.defects.join("; ")}`, "status"); return;
      case "artifact": artifact(sid, e.name); return;
      case "plan_review":
        $("plan").value = e.plan;
        $("review-panel").hidden = false;
        $("review-panel").dataset.sid = sid;
        return;
      case "complete":
        finish(sid, "complete");
        $("job-tokens").textContent = `${t("tokens")} ${e.usage.inputTokens.toLocaleString()} / ${e.usage.outputTokens.toLocaleString()}`;
        $("job-clock").textContent = minutes(e.durationSeconds);
        line(`✓ ${t("complete")}`, "agent");
        return;
      case "error":
        finish(sid, e.message === "cancelled in the console" ? "cancelled" : "error");
        line(`✗ ${e.message}`, "error");
        return;
      default: line(`${e.type}`, "status");
    }
  };
  source.onerror = () => {
    if (source) source.close();
    // The stream ended without a result: a job known only from its files (one of the stack's, fetched
    // from the bucket), or one whose console stopped while it ran.
    if ($("job-state").dataset.state === "running") showStored(sid);
  };
}

async function showStored(sid) {
  const { files } = await api("GET", `/api/jobs/${sid}`);
  const made = files.filter((name) => !["job.json", "events.jsonl", "deep-insight-run.log"].includes(name));
  for (const name of made) artifact(sid, name);
  finish(sid, made.includes("final_report.md") ? "complete" : "stopped");
}

function minutes(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function line(text, kind) {
  const item = el("li", { class: kind, "data-testid": `event-${kind}` }, text);
  $("timeline").append(item);
  item.scrollIntoView({ block: "nearest" });
  return item;
}

function chart(sid, name) {
  if ([...$("charts").children].some((img) => img.alt === name)) return;
  const url = `/api/jobs/${sid}/files/${encodeURIComponent(name)}`;
  $("charts").append(el("img", { src: url, alt: name, "data-testid": "chart" }));
}

async function showNewCharts(sid) {
  // Charts are published when the job ends; the console copies them after each call, so show them now.
  const { files } = await api("GET", `/api/jobs/${sid}`);
  for (const name of files) if (name.endsWith(".png")) chart(sid, name);
}

function artifact(sid, name) {
  const url = `/api/jobs/${sid}/files/${encodeURIComponent(name)}`;
  if (name.endsWith(".png")) chart(sid, name);
  $("downloads").append(el("li", {}, el("a", { href: url, download: name, "data-testid": "download" }, name)));
}

function setState(state) {
  $("job-state").textContent = t(state);
  $("job-state").dataset.state = state;
  $("cancel").hidden = state !== "running";
}

function finish(sid, state) {
  setState(state);
  clearInterval(clock);
  $("review-panel").hidden = true;
  if (source) { source.close(); source = null; }
  $("results").hidden = false;
  if (state === "complete") {
    $("report").src = `/api/jobs/${sid}/files/final_report.html`;
    $("report").hidden = false;
  }
}

async function decide(action) {
  const sid = $("review-panel").dataset.sid;
  const decision = action === "approve" ? { action } : { action, plan: $("plan").value };
  await api("POST", `/api/jobs/${sid}/review`, decision);
  $("review-panel").hidden = true;
}

// --- history ---
async function showHistory() {
  const { jobs } = await api("GET", "/api/jobs");
  $("history-rows").replaceChildren(...jobs.map((j) => el("tr", { "data-testid": "history-row" },
    el("td", {}, el("a", { href: `#/job/${j.sessionId}` }, j.sessionId)),
    el("td", {}, j.question),
    el("td", { "data-state": j.state }, t(j.state)))));
}

// --- screens ---
function route() {
  const [, screen, sid] = location.hash.split("/");
  for (const name of ["new", "job", "history"]) $(`screen-${name}`).hidden = true;
  if (screen === "job" && sid) { $("screen-job").hidden = false; openJob(sid); return; }
  if (source) { source.close(); source = null; }
  if (screen === "history") { $("screen-history").hidden = false; showHistory(); return; }
  $("screen-new").hidden = false;
}

$("files").addEventListener("change", (e) => addFiles(e.target.files));
$("drop").addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (e) => { e.preventDefault(); $("drop").classList.remove("over"); addFiles(e.dataTransfer.files); });
$("start").addEventListener("click", startJob);
$("cancel").addEventListener("click", () => api("POST", `/api/jobs/${$("job-session").textContent}/cancel`));
$("approve").addEventListener("click", () => decide("approve"));
$("revise").addEventListener("click", () => decide("revise"));
$("ui-language").addEventListener("click", () => {
  lang = lang === "ko" ? "en" : "ko";
  localStorage.setItem("lang", lang);
  translate();
});
window.addEventListener("hashchange", route);
if (location.search.includes("token=")) history.replaceState(null, "", "/" + location.hash);  // the cookie has it now
translate();
route();
