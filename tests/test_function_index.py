"""Index function_app as the Functions host would: names, triggers, queues and connections."""

from __future__ import annotations

import functools

from bilagsbro.stack import load_function_app
from pipeline.records import names


@functools.cache
def _functions():
    # A fresh module, indexed once, as the worker does (get_functions() refuses a second indexing).
    indexed = load_function_app().app.get_functions()
    functions = {f.get_function_name(): f for f in indexed}
    assert len(functions) == len(indexed)
    return functions


def _bindings(fn):
    return [b.get_dict_repr() for b in fn.get_bindings()]


def test_http_functions_and_routes():
    functions = _functions()
    routes = {
        name: (f.get_trigger().get_dict_repr()["route"], tuple(str(getattr(m, "value", m)) for m in f.get_trigger().get_dict_repr()["methods"]))
        for name, f in functions.items() if f.get_trigger().get_dict_repr()["type"] == "httpTrigger"
    }
    assert routes["receive_documents"] == ("v1/documents", ("POST",))
    assert routes["receive_file"] == ("v1/files", ("POST",))
    assert routes["document_status"] == ("v1/documents/{id}", ("GET",))
    assert routes["document_retry"] == ("v1/documents/{id}/retry", ("POST",))
    assert routes["api_docs"] == ("docs", ("GET",))
    assert routes["receipt_report"] == ("v1/receipts/{id}/report", ("GET",))
    assert routes["receipt_report_csv"] == ("v1/receipts/{id}/report.csv", ("GET",))
    # Shared-form documents are translated at intake (nothing to translate) and go on to adapt; files are
    # translated by the next stage.
    for name, queue in (("receive_documents", names.QUEUE_TRANSLATED), ("receive_file", names.QUEUE_RECEIVED)):
        outputs = [b for b in _bindings(functions[name]) if b["type"] == "queue"]
        assert outputs == [{**outputs[0], "queueName": queue, "connection": names.STORAGE_CONNECTION}]


def test_stages_are_queue_chained():
    functions = _functions()
    chain = {}
    for name in ("translate", "adapt", "deliver"):
        bindings = _bindings(functions[name])
        trigger = next(b for b in bindings if b["type"] == "queueTrigger")
        outputs = [b["queueName"] for b in bindings if b["type"] == "queue"]
        assert trigger["connection"] == names.STORAGE_CONNECTION
        chain[name] = (trigger["queueName"], outputs)
    assert chain == {
        "translate": (names.QUEUE_RECEIVED, [names.QUEUE_TRANSLATED]),
        "adapt": (names.QUEUE_TRANSLATED, [names.QUEUE_ADAPTED]),
        "deliver": (names.QUEUE_ADAPTED, []),
    }


def test_every_poison_queue_has_a_handler():
    functions = _functions()
    watched = {
        b["queueName"] for f in functions.values() for b in _bindings(f) if b["type"] == "queueTrigger"
    }
    assert set(names.POISON_QUEUES) <= watched
    assert all(len(q) <= 63 for q in names.QUEUES)


def test_sftp_drops_start_the_pipeline_through_an_event_grid_blob_trigger():
    bindings = _bindings(_functions()["receive_drop"])
    trigger = next(b for b in bindings if b["type"] == "blobTrigger")
    assert trigger["path"] == f"{names.CONTAINER_SFTP}/{{name}}"
    assert trigger["source"] == "EventGrid"  # Flex Consumption supports only the Event Grid source
    assert trigger["connection"] == names.SFTP_CONNECTION
    assert [b["queueName"] for b in bindings if b["type"] == "queue"] == [names.QUEUE_RECEIVED]


def test_a_timer_pulls_omnium_orders_on_a_schedule_from_settings():
    trigger = _functions()["pull_orders"].get_trigger().get_dict_repr()
    assert trigger["type"] == "timerTrigger"
    assert trigger["schedule"] == "%OMNIUM_PULL_SCHEDULE%"  # UTC; the business day is Europe/Oslo in code
    assert trigger["runOnStartup"] is False and trigger["useMonitor"] is True


def test_a_timer_sweeps_stalled_documents_on_a_schedule_from_settings():
    from bilagsbro.cron import parse_schedule
    from bilagsbro.stack import settings_for

    trigger = _functions()["sweep"].get_trigger().get_dict_repr()
    assert trigger["type"] == "timerTrigger" and trigger["schedule"] == "%SWEEP_SCHEDULE%"
    assert trigger["runOnStartup"] is False
    schedule = parse_schedule(settings_for("UseDevelopmentStorage=true")["SWEEP_SCHEDULE"])
    assert len(schedule.seconds) == 4 and schedule.minutes == frozenset(range(60))  # every 15 s
