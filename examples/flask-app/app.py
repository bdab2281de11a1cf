"""A small Flask app, built into an image by python-buildpack (see `make demo`)."""

import platform
import sys
from importlib.metadata import version

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index():  # type: ignore[no-untyped-def]
    return jsonify(
        message="Hello from a Python app built by python-buildpack",
        python=platform.python_version(),
        flask=version("flask"),
        virtual_env=sys.prefix,
    )
