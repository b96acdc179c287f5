"""The HTTP server's own limits, where functions-framework offers no setting.

functions-framework (3.10) serves HTTP functions with gunicorn and sets
``limit_request_line`` to 0, "unlimited". gunicorn 27 then reads a request line of
any length, and the time grows with the square of it (measured: 1 MiB 0.14 s, 4 MiB
1.6 s, 16 MiB 25 s of CPU); Cloud Run forwards requests of up to 32 MiB. One request
could hold a CPU for minutes. gunicorn's own bound (8,190 bytes, its maximum) is put
back after functions-framework's configuration, so an over-long line is a 414 from the
server before any code of ours runs. gunicorn 27 also opens a control socket at one
fixed path per user (``~/.gunicorn/gunicorn.ctl``); several servers on one machine (the
demo, the tests) replace and remove each other's, logging plain-text errors. Refrain
never uses it, so it is turned off. Workers, threads and timeouts need no patch:
functions-framework reads them from the environment (WORKERS, THREADS,
CLOUD_RUN_TIMEOUT_SECONDS), and Terraform sets them (terraform/modules/function).

``read_at_most`` and ``refuse_unread`` bound what an HTTP function reads of a body: the
public functions (checkout_webhook, account_api) answer 413 without holding the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import flask

REQUEST_LINE_LIMIT = 8190  # gunicorn's maximum and default-safe bound; providers send short paths


def limit_the_server(limit: int = REQUEST_LINE_LIMIT) -> None:
    """Make the gunicorn application functions-framework builds refuse longer request lines
    (and open no control socket).

    Called when a function's module is imported, which functions-framework does before
    it builds the server. Safe to call more than once.
    """
    try:
        from functions_framework._http import gunicorn as served
    except ImportError:  # no gunicorn (Windows, debug server): nothing to bound
        return
    application: Any = served.GunicornApplication
    if getattr(application, "refrain_request_line_limit", None) == limit:
        return
    configure = getattr(application, "refrain_configure", application.load_config)

    def load_config(self: Any) -> None:
        configure(self)
        self.cfg.set("limit_request_line", limit)
        if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 27
            self.cfg.set("control_socket_disable", True)

    application.refrain_configure = configure
    application.refrain_request_line_limit = limit
    application.load_config = load_config


def refuse_unread(body: str, content_type: str) -> flask.Response:
    """413 without reading the rest of the body, and the connection closed.

    functions-framework reads every request to its end after the function returns
    (``read_request``, into memory) unless the response is streamed: a streamed answer
    keeps a 32 MiB body out of memory, and ``Connection: close`` lets the server drop it.
    """
    import flask

    return flask.Response(
        iter([body]), status=413, content_type=content_type, headers={"Connection": "close"}
    )


def read_at_most(request: Any, limit: int) -> bytes | None:
    """At most ``limit`` + 1 bytes, chunked or not: a body over the limit is never held.

    None when the declared length is already over it (413 without reading).
    """
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, room = [], limit + 1
    while room > 0:  # a stream may answer short reads: read until the end or the limit
        chunk = request.stream.read(min(room, 64 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        room -= len(chunk)
    return b"".join(chunks)
