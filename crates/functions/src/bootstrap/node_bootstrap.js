// Portico's bootstrap for nodejs* functions: a Lambda Runtime API client loop that loads the
// handler (`_HANDLER`, e.g. `index.handler`) from LAMBDA_TASK_ROOT and calls it as Lambda's
// Node.js runtime does: async handlers (a returned promise) and callback handlers. Node's
// standard library only.
"use strict";
const http = require("http");
const path = require("path");
const fs = require("fs");
const url = require("url");

const [HOST, PORT] = (() => {
  const api = process.env.AWS_LAMBDA_RUNTIME_API;
  const i = api.lastIndexOf(":");
  return [api.slice(0, i), Number(api.slice(i + 1))];
})();
const BASE = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port: PORT, method, path: BASE + p, agent, headers: headers || {} }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorDoc(e) {
  if (e instanceof Error) {
    return { errorType: e.name || "Error", errorMessage: e.message, trace: String(e.stack || "").split("\n") };
  }
  return { errorType: "string", errorMessage: typeof e === "string" ? e : JSON.stringify(e), trace: [] };
}

async function loadHandler() {
  const spec = process.env._HANDLER || "";
  const dot = spec.lastIndexOf(".");
  if (dot <= 0) {
    const err = new Error(`Bad handler ${spec}`);
    err.name = "Runtime.MalformedHandlerName";
    throw err;
  }
  const modulePath = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT || ".";
  const base = path.resolve(root, modulePath);
  let mod;
  const candidates = [".js", ".mjs", ".cjs"].map((ext) => base + ext).filter((f) => fs.existsSync(f));
  if (candidates.length === 0) {
    const err = new Error(`Cannot find module '${modulePath}'`);
    err.name = "Runtime.ImportModuleError";
    throw err;
  }
  const file = candidates[0];
  try {
    if (file.endsWith(".mjs")) {
      mod = await import(url.pathToFileURL(file).href);
    } else {
      try {
        mod = require(file);
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM") mod = await import(url.pathToFileURL(file).href);
        else throw e;
      }
    }
  } catch (e) {
    const err = new Error(`${e && e.message}`);
    err.name = e instanceof SyntaxError ? "Runtime.UserCodeSyntaxError" : "Runtime.ImportModuleError";
    throw err;
  }
  const fn = mod[name] || (mod.default && mod.default[name]);
  if (typeof fn !== "function") {
    const err = new Error(`${modulePath}.${name} is undefined or not exported`);
    err.name = "Runtime.HandlerNotFound";
    throw err;
  }
  return fn;
}

function context(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] || 0);
  const cc = headers["lambda-runtime-client-context"];
  const ci = headers["lambda-runtime-cognito-identity"];
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: cc ? JSON.parse(cc) : undefined,
    identity: ci ? JSON.parse(ci) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function run(fn, event, ctx) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err, value) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(value);
    };
    try {
      const out = fn(event, ctx, done);
      if (out && typeof out.then === "function") out.then((v) => done(null, v), (e) => done(e === undefined ? new Error("undefined") : e));
      else if (fn.length < 3) done(null, out);
    } catch (e) {
      done(e);
    }
  });
}

async function main() {
  let fn;
  try {
    fn = await loadHandler();
  } catch (e) {
    const doc = errorDoc(e);
    console.error(`ERROR ${doc.errorType}: ${doc.errorMessage}`);
    try {
      await call("POST", "/init/error", JSON.stringify(doc), { "Lambda-Runtime-Function-Error-Type": doc.errorType });
    } finally {
      process.exit(1);
    }
  }
  for (;;) {
    let next;
    try {
      next = await call("GET", "/invocation/next");
    } catch (e) {
      process.exit(0);
    }
    if (next.status !== 200) process.exit(0);
    const id = next.headers["lambda-runtime-aws-request-id"];
    if (next.headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"];
    try {
      const event = next.body.length ? JSON.parse(next.body.toString("utf8")) : null;
      const result = await run(fn, event, context(next.headers));
      await call("POST", `/invocation/${id}/response`, JSON.stringify(result === undefined ? null : result));
    } catch (e) {
      const doc = errorDoc(e);
      console.error(`ERROR\tInvoke Error\t${JSON.stringify(doc)}`);
      await call("POST", `/invocation/${id}/error`, JSON.stringify(doc), { "Lambda-Runtime-Function-Error-Type": "Unhandled" });
    }
  }
}

main();
