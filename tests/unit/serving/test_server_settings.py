"""The gunicorn settings functions-framework's server ends up with, once a function loads."""

from __future__ import annotations

import flask
import pytest
from functions_framework._http import gunicorn as served

from refrain import serving

pytestmark = pytest.mark.unit


def test_a_loaded_function_bounds_the_request_line_and_opens_no_control_socket() -> None:
    serving.limit_the_server()
    serving.limit_the_server()  # a second function module in the same process: no change
    server = served.GunicornApplication(flask.Flask("probe"), "127.0.0.1", 0, False)
    assert server.cfg.limit_request_line == serving.REQUEST_LINE_LIMIT  # not 0, "unlimited"
    assert server.cfg.control_socket_disable is True  # no shared ~/.gunicorn socket
    assert server.cfg.limit_request_fields == 100 and server.cfg.limit_request_field_size == 8190
