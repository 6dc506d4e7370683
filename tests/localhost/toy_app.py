"""A tiny FunctionApp exercising every trigger and binding the local host supports, for its tests."""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

# What the functions saw, for the tests to inspect (the host runs them in its own threads).
FAILED_DEQUEUE_COUNTS: list[int] = []
TIMER_CALLS: list[tuple[str, bool]] = []
BLOB_ATTEMPTS: list[str] = []


@app.route(route="orders/{tenant}/{kind?}", methods=["POST"])
@app.queue_output(arg_name="received", queue_name="toy-received", connection="TOY_STORAGE")
def receive_order(req: func.HttpRequest, received: func.Out[str]) -> func.HttpResponse:
    order = req.get_json()
    message = {"tenant": req.route_params["tenant"], "kind": req.route_params.get("kind"),
               "customer": order["customer"], "lines": req.params.get("lines")}
    received.set(json.dumps(message, ensure_ascii=False))
    return func.HttpResponse(json.dumps(message, ensure_ascii=False), status_code=202,
                             mimetype="application/json", headers={"X-Toy": "yes"})


@app.route(route="files/{*path}", methods=["GET"])
def read_file(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"path={req.route_params.get('path', '')}")


@app.route(route="echo", methods=["POST"])
async def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(f"{context.function_name}: {req.get_body().decode('utf-8')}")


@app.route(route="boom", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="toy-boom", connection="TOY_STORAGE")
def boom(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set("never sent")
    raise RuntimeError("boom")


@app.queue_trigger(arg_name="msg", queue_name="toy-received", connection="TOY_STORAGE")
@app.queue_output(arg_name="done", queue_name="toy-done", connection="TOY_STORAGE")
def translate(msg: func.QueueMessage, done: func.Out[list[str]]) -> None:
    order = msg.get_json()
    seen = {"id": msg.id, "dequeue_count": msg.dequeue_count,
            "has_times": msg.insertion_time is not None and msg.expiration_time is not None,
            "has_receipt": bool(msg.pop_receipt)}
    done.set([json.dumps({**order, "stage": "translated", "seen": seen}, ensure_ascii=False),
              json.dumps({"stage": "second", "customer": order["customer"]}, ensure_ascii=False)])


@app.queue_trigger(arg_name="msg", queue_name="toy-fail", connection="TOY_STORAGE")
def always_fails(msg: func.QueueMessage) -> None:
    FAILED_DEQUEUE_COUNTS.append(msg.dequeue_count)
    raise ValueError(f"cannot handle {msg.get_body().decode('utf-8')}")


@app.timer_trigger(arg_name="timer", schedule="%TOY_SCHEDULE%", run_on_startup=True)
def yearly(timer: func.TimerRequest) -> None:
    TIMER_CALLS.append(("yearly", timer.past_due))


@app.timer_trigger(arg_name="timer", schedule="* * * * * *")
def every_second(timer: func.TimerRequest) -> None:
    TIMER_CALLS.append(("every_second", timer.past_due))


@app.blob_trigger(arg_name="blob", path="toy-inbox/{name}", connection="TOY_STORAGE",
                  source=func.BlobSource.EVENT_GRID)
@app.queue_output(arg_name="seen", queue_name="toy-blobs", connection="TOY_STORAGE")
def on_upload(blob: func.InputStream, seen: func.Out[str]) -> None:
    BLOB_ATTEMPTS.append(blob.name)
    if blob.name.startswith("toy-inbox/bad"):
        raise ValueError("unreadable file")
    seen.set(json.dumps({"name": blob.name, "length": blob.length, "text": blob.read().decode("utf-8"),
                         "metadata": blob.metadata, "etag": blob.blob_properties["ETag"]},
                        ensure_ascii=False))
