"""Portico's bootstrap for python3.x functions: a Lambda Runtime API client loop that imports the
handler (`_HANDLER`, e.g. `index.handler` or `dir/module.function`) from LAMBDA_TASK_ROOT and calls
it with (event, context), as Lambda's Python runtime does. Standard library only."""
import http.client
import importlib
import json
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, PORT = API.rsplit(":", 1)
BASE = "/2018-06-01/runtime"
_conn = None


def call(method, path, body=None, headers=None):
    global _conn
    for attempt in range(2):
        if _conn is None:
            _conn = http.client.HTTPConnection(HOST, int(PORT))
        try:
            _conn.request(method, BASE + path, body=body, headers=headers or {})
            r = _conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            _conn.close()
            _conn = None
            if attempt:
                raise
    raise ConnectionError("unreachable")


class Context:
    def __init__(self, headers):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.aws_request_id = headers.get("lambda-runtime-aws-request-id")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self._deadline_ms = int(headers.get("lambda-runtime-deadline-ms") or 0)
        cc = headers.get("lambda-runtime-client-context")
        ci = headers.get("lambda-runtime-cognito-identity")
        self.client_context = json.loads(cc) if cc else None
        self.identity = json.loads(ci) if ci else None

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_doc(e, request_id=None):
    doc = {"errorMessage": str(e), "errorType": type(e).__name__}
    if request_id:
        doc["requestId"] = request_id
    doc["stackTrace"] = traceback.format_list(traceback.extract_tb(e.__traceback__)[1:])
    return doc


def load_handler():
    spec = os.environ.get("_HANDLER", "")
    module_path, _, name = spec.rpartition(".")
    if not module_path or not name:
        raise ValueError(f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)")
    task_root = os.environ.get("LAMBDA_TASK_ROOT", ".")
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    try:
        module = importlib.import_module(module_path.replace("/", "."))
    except Exception as e:
        err = type("ImportModuleError", (Exception,), {})(f"Unable to import module '{module_path}': {e}")
        err.lambda_type = "Runtime.ImportModuleError"
        raise err
    try:
        return getattr(module, name)
    except AttributeError:
        err = type("HandlerNotFound", (Exception,), {})(f"Handler '{name}' missing on module '{module_path}'")
        err.lambda_type = "Runtime.HandlerNotFound"
        raise err


def main():
    try:
        handler = load_handler()
    except Exception as e:
        doc = {"errorMessage": str(e), "errorType": getattr(e, "lambda_type", "Runtime.UserCodeSyntaxError"),
               "requestId": "", "stackTrace": []}
        print(f"[ERROR] {doc['errorType']}: {doc['errorMessage']}", file=sys.stderr, flush=True)
        try:
            call("POST", "/init/error", json.dumps(doc), {"Lambda-Runtime-Function-Error-Type": doc["errorType"]})
        finally:
            sys.exit(1)
    while True:
        try:
            status, headers, body = call("GET", "/invocation/next")
        except OSError:
            sys.exit(0)  # the Runtime API is gone: Portico stopped
        if status != 200:
            sys.exit(0)
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        trace = headers.get("lambda-runtime-trace-id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            event = json.loads(body) if body else None
            result = handler(event, Context(headers))
            out = json.dumps(result)
        except Exception as e:
            doc = error_doc(e, request_id)
            print(f"[ERROR] {doc['errorType']}: {doc['errorMessage']}", file=sys.stderr, flush=True)
            call("POST", f"/invocation/{request_id}/error", json.dumps(doc),
                 {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
            continue
        call("POST", f"/invocation/{request_id}/response", out.encode())


if __name__ == "__main__":
    main()
