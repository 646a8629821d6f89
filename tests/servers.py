"""Helpers for the serving tests: a page served on loopback over fakes, and the HTTP calls a browser makes.

Every loop here is bounded and every request has a timeout, so a broken server fails a test
instead of hanging it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

TIMEOUT_S = 30  # per HTTP request; loopback, but two busy cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(rag, access=None, gate=None, auth=None, host: str = "127.0.0.1") -> Iterator[str]:
    """The chat page over ``rag`` on a free loopback port; yields its URL and closes it afterwards."""
    from ui.access import LOCAL
    from ui.app import build_app, launch

    app = build_app(rag, access or LOCAL, gate)
    url = launch(app, host, free_port(), auth=auth, block=False, max_file_size=rag.config.max_doc_bytes)
    try:
        yield url
    finally:
        app.close()


def until(condition: Callable[[], bool], timeout_s: float = 20.0, what: str = "the condition") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(0.02)


class BlockingGenerator:
    """A stand-in LLM that holds the model until ``release`` is set: fills a line deterministically."""

    name = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompt, max_tokens: int) -> Iterator[str]:
        self.entered += 1
        if not self.release.wait(60):
            raise RuntimeError("BlockingGenerator was never released")
        yield "Hamedani was killed by ISIS extremists [1]."


class SlowGenerator:
    """A stand-in LLM that takes ``per_token_s`` per token, like a real one on a slow CPU."""

    name = "slow"

    def __init__(self, per_token_s: float = 0.02, tokens: int = 10) -> None:
        self.per_token_s, self.tokens = per_token_s, tokens

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompt, max_tokens: int) -> Iterator[str]:
        for word in ("Hamedani was killed by ISIS extremists, the articles say [1]. " * 3).split()[:self.tokens]:
            time.sleep(self.per_token_s)
            yield word + " "


@dataclass
class FakeRequest:
    """What the handlers read from `gr.Request`."""

    session_hash: str = ""
    username: str | None = None


def login(url: str, user: str, password: str) -> httpx.Client:
    """An HTTP client logged in the way the page's login form does it."""
    client = httpx.Client(base_url=url, timeout=TIMEOUT_S)
    response = client.post("login", data={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return client


def post_upload(client: httpx.Client, *paths: Path) -> httpx.Response:
    """POST files to Gradio's upload endpoint, as the File widget does."""
    handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed below
    try:
        return client.post("gradio_api/upload", files=[("files", (p.name, h)) for p, h in zip(paths, handles)])
    finally:
        for h in handles:
            h.close()


def upload_event(client: httpx.Client, stored: list[str]) -> str:
    """Run the page's upload event on files already stored by Gradio, as the browser does; returns the status HTML."""
    config = client.get("config").json()
    widget = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "upload")
    event = next(d["id"] for d in config["dependencies"] if [widget, "upload"] in [list(t) for t in d["targets"]])
    session = uuid.uuid4().hex
    files = [{"path": p, "orig_name": Path(p).name, "meta": {"_type": "gradio.FileData"}} for p in stored]
    joined = client.post("gradio_api/queue/join", json={"data": [files], "fn_index": event, "session_hash": session,
                                                         "event_data": None, "trigger_id": widget})
    assert joined.status_code == 200, joined.text
    with client.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                output: Any = message.get("output", {})
                assert message.get("success"), output
                return output["data"][0]
    raise AssertionError("the upload event never completed")


def files_named(folder: str | Path, name: str) -> list[Path]:
    """Every file called ``name`` under ``folder`` (Gradio keeps uploads in one sub-folder per content hash)."""
    root = Path(folder)
    return sorted(root.rglob(name)) if root.is_dir() else []
