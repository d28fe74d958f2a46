// Makes fetch() calls from inside a real page in headless Chromium and reports what the page saw.
//
//   node cors_probe.mjs '<plan JSON>'      or      echo '<plan JSON>' | node cors_probe.mjs
//
// The plan:
//   {"page": "http://127.0.0.1:PORT/",          the page to load: its origin is the caller's origin
//    "calls": [{"url": "...", "method": "PUT", "headers": {"X-Custom": "1"}, "body": "...",
//               "credentials": "omit" | "same-origin" | "include", "mode": "cors"}],
//    "timeout_ms": 30000}                         everything (launch, page, calls) ends by then
//
// Prints one JSON line per call, in order:
//   {"call": 0, "ok": true, "status": 200, "type": "cors", "body": "...", "headers": {...}, "console": [...]}
//   {"call": 1, "error": {"name": "TypeError", "message": "Failed to fetch"}, "console": [...]}
// `headers` are those the page may read (CORS-safelisted plus Access-Control-Expose-Headers);
// `console` holds the browser's console messages that arrived during the call and mention CORS
// or Access-Control (Chromium logs the reason a response was blocked there, never to the page).
// A last line {"done": true, "console": [every such message], "elapsed_ms": N} closes the run.
// Exit status: 0 when every call was made (blocked calls included), 2 on a bad plan, launch
// failure or timeout (with a JSON {"fatal": "..."} line). The browser is always closed.
//
// Chromium is Debian's /usr/bin/chromium (CHROMIUM overrides); playwright-core never downloads one.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const started = Date.now();
let browser = null;
let finished = false;

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

async function closeBrowser() {
  const b = browser;
  browser = null;
  if (b) await b.close().catch(() => {});
}

async function fatal(message, code = 2) {
  if (finished) return;
  finished = true;
  out({ fatal: message, elapsed_ms: Date.now() - started });
  await closeBrowser();
  process.exit(code);
}

function readPlan() {
  const arg = process.argv[2];
  const text = arg && arg !== "-" ? arg : readFileSync(0, "utf8");
  const plan = JSON.parse(text);
  if (typeof plan.page !== "string" || !Array.isArray(plan.calls)) {
    throw new Error('the plan needs "page" (a URL) and "calls" (a list)');
  }
  return plan;
}

const CORS_WORDS = /cors|access-control|preflight/i;

async function main() {
  let plan;
  try {
    plan = readPlan();
  } catch (e) {
    return fatal(`bad plan: ${e.message}`);
  }
  const budget = Number(plan.timeout_ms) > 0 ? Number(plan.timeout_ms) : 30000;
  const timer = setTimeout(() => fatal(`timed out after ${budget} ms`), budget);
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => fatal(`stopped by ${sig}`));

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: budget,
    // Root needs --no-sandbox; no proxy from the environment may stand between page and gateway.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--no-proxy-server", "--disable-gpu"],
  });
  const page = await (await browser.newContext()).newPage();
  const allConsole = [];
  let callConsole = [];
  page.on("console", (msg) => {
    const text = msg.text();
    if (CORS_WORDS.test(text)) {
      allConsole.push(text);
      callConsole.push(text);
    }
  });
  await page.goto(plan.page, { timeout: budget, waitUntil: "load" });

  const perCall = Math.max(1000, Math.floor(budget / Math.max(1, plan.calls.length)) - 500);
  for (const [i, call] of plan.calls.entries()) {
    callConsole = [];
    const result = await page.evaluate(async ({ call, perCall }) => {
      const abort = new AbortController();
      const t = setTimeout(() => abort.abort(), perCall);
      const init = { method: call.method || "GET", headers: call.headers || {},
                     credentials: call.credentials || "same-origin", mode: call.mode || "cors",
                     signal: abort.signal };
      if (call.body !== undefined && call.body !== null) init.body = call.body;
      try {
        const r = await fetch(call.url, init);
        const headers = {};
        r.headers.forEach((v, k) => { headers[k] = v; });
        const body = await r.text();
        return { ok: r.ok, status: r.status, type: r.type, body, headers };
      } catch (e) {
        return { error: { name: e.name, message: e.message } };
      } finally {
        clearTimeout(t);
      }
    }, { call, perCall });
    // Chromium logs the CORS reason just after the fetch rejects: give it a moment to arrive.
    if (result.error) await page.waitForTimeout(100);
    out({ call: i, ...result, console: callConsole });
  }
  clearTimeout(timer);
  finished = true;
  out({ done: true, console: allConsole, elapsed_ms: Date.now() - started });
  await closeBrowser();
}

main().catch((e) => fatal(String(e && e.stack ? e.stack : e)));
