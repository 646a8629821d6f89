"""Serving past this machine (issue 16): accounts off loopback, named writers, bounded readers, and a login brake.

Everything runs on loopback over the fake embedder and stand-in LLMs; every wait is bounded.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag import RAG, Config, ConfigError

from .conftest import ROOT, EchoGenerator
from .servers import (
    BlockingGenerator,
    FakeRequest,
    files_named,
    login,
    post_upload,
    served,
    until,
)

gr = pytest.importorskip("gradio")
import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402

from ui.access import READER_REFUSED, Access, Logins, check_exposure, is_loopback, read_accounts  # noqa: E402
from ui.app import ChatPage, build_app, launch, serve  # noqa: E402
from ui.gate import BUSY, ONE_AT_A_TIME, Gate, Refused  # noqa: E402

QUESTION = "Who killed Hamedani?"
ACCOUNTS = {"reader": "r-secret-1", "writer": "w-secret-2"}


@pytest.fixture
def make_rag(corpus, tmp_path, fake_embedder):
    def make(generator=None, **settings) -> RAG:
        config = Config(docs_dir=str(corpus), index_dir=str(tmp_path / "index"), **settings)
        return RAG.build(config=config, embedder=fake_embedder,
                         generator=generator or EchoGenerator("Hamedani was killed by ISIS extremists [1]."))
    return make


# -- off loopback needs accounts ------------------------------------------------------------------
@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
                                            ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                            ("::", False), ("192.168.1.20", False), ("newsroom.example", False)])
def test_only_loopback_addresses_count_as_this_machine(host, loopback):
    assert is_loopback(host) is loopback


def test_serving_off_loopback_without_accounts_is_refused_before_anything_loads(tmp_path, monkeypatch):
    def loaded(*args, **kwargs):
        raise AssertionError("the index was opened before the address was checked")

    monkeypatch.setattr("ui.app.open_rag", loaded)
    with pytest.raises(ConfigError, match=r"--auth user:password.*--auth-file FILE") as refused:
        serve(Config(index_dir=str(tmp_path / "none")), host="0.0.0.0")
    message = str(refused.value)
    assert message.endswith(".") and ". " not in message  # one sentence
    assert not (tmp_path / "none").exists()


def test_the_cli_refuses_an_open_address_in_one_sentence(tmp_path):
    out = subprocess.run([sys.executable, "-m", "rag.cli", "serve", "--host", "0.0.0.0", "--index",
                          str(tmp_path / "none")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 1 and len(lines) == 1 and "Traceback" not in out.stderr
    assert "--auth" in lines[0] and "--auth-file" in lines[0]
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("flags, expected", [
    (["--auth-file", "/nonexistent/users.txt"], "Cannot read the accounts file"),
    (["--auth", "ann:pw", "--writers", "bob"], "--writers names bob, who has no account"),
    (["--auth", "ann"], "--auth must look like user:password"),
])
def test_the_cli_refuses_unclear_accounts_in_one_sentence_before_loading(tmp_path, flags, expected):
    out = subprocess.run([sys.executable, "-m", "rag.cli", "serve", "--index", str(tmp_path / "none"), *flags],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 1 and len(lines) == 1 and expected in lines[0], out.stderr
    assert not (tmp_path / "none").exists()


def test_launch_itself_refuses_an_open_address_without_accounts(make_rag):
    app = build_app(make_rag())
    with pytest.raises(ConfigError, match="needs accounts"):
        launch(app, "0.0.0.0", 0, block=False)
    check_exposure("0.0.0.0", Access(dict(ACCOUNTS)))  # with accounts it may


def test_accounts_come_from_a_file_and_errors_never_show_a_password(tmp_path, caplog):
    accounts = tmp_path / "users.txt"
    accounts.write_text("# newsroom\nreader:r:with:colons\n\nwriter:w-secret-2\n", encoding="utf-8")
    accounts.chmod(0o600)
    assert read_accounts(accounts) == [("reader", "r:with:colons"), ("writer", "w-secret-2")]
    access = Access.from_options(auth_file=str(accounts), writers="writer")
    assert access.may_write("writer") and not access.may_write("reader") and not access.may_write(None)
    assert "w-secret-2" not in repr(access)

    accounts.write_text("reader:fine\nhunter2-without-a-user\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="Line 2 of") as bad:
        read_accounts(accounts)
    assert "hunter2" not in str(bad.value)
    with pytest.raises(ConfigError, match="no account"):
        Access.from_options(auth="reader:pw", writers="reader,nobody")
    with pytest.raises(ConfigError, match="not both"):
        Access.from_options(auth="reader:pw", writers="reader", allow_uploads=True)
    accounts.write_text("reader:pw\n", encoding="utf-8")
    accounts.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="ui.access"):
        read_accounts(accounts)
    assert "chmod 600" in caplog.text and "pw" not in caplog.text.replace("chmod", "")


def test_uploads_are_off_unless_allowed():
    assert not Access.from_options().may_write(None)  # `rag serve` with no flags: nobody writes
    assert Access.from_options(allow_uploads=True).may_write(None)
    assert Access.from_options(auth="ann:pw", allow_uploads=True).may_write("ann")


# -- /ask and the page's events sit behind the same login -------------------------------------------------
def test_unauthenticated_requests_get_401_and_the_right_login_gets_answers(make_rag):
    with served(make_rag(), Access(dict(ACCOUNTS))) as url:
        anonymous = httpx.Client(base_url=url, timeout=30)
        assert anonymous.post("gradio_api/call/ask", json={"data": [QUESTION]}).status_code == 401
        assert anonymous.post("gradio_api/queue/join", json={"data": [QUESTION], "fn_index": 0,
                                                             "session_hash": "x"}).status_code == 401
        assert anonymous.get("config").status_code == 401
        assert anonymous.post("gradio_api/upload", files={"files": ("a.md", b"# A\n\nText.\n")}).status_code == 401
        data = Client(url, auth=("reader", ACCOUNTS["reader"]), verbose=False).predict(QUESTION, api_name="/ask")
    assert data["question"] == QUESTION and data["citations"]


# -- writers are named ----------------------------------------------------------------------------------
def test_a_reader_cannot_upload_through_the_api_but_a_writer_can(make_rag, tmp_path):
    from ui.access import upload_folder

    from .servers import upload_event

    rag = make_rag()
    name = f"zebra-{uuid.uuid4().hex[:8]}.md"
    article = tmp_path / name
    article.write_text("# Zebra parade\n\nThe zebra parade was held in Lisbon on Sunday.\n", encoding="utf-8")
    with served(rag, Access(dict(ACCOUNTS), frozenset({"writer"}))) as url:
        reader, writer = login(url, "reader", ACCOUNTS["reader"]), login(url, "writer", ACCOUNTS["writer"])
        refused = post_upload(reader, article)
        assert refused.status_code == 403 and refused.json()["detail"] == READER_REFUSED
        assert files_named(upload_folder(), name) == []  # nothing was stored for the reader

        stored = post_upload(writer, article)
        assert stored.status_code == 200, stored.text
        # The reader replays the page's upload event on the writer's stored file: the page refuses too.
        assert READER_REFUSED in upload_event(reader, stored.json())
        assert article.stem not in rag.documents()
        stored = post_upload(writer, article)
        status = upload_event(writer, stored.json())
    assert f"Indexed {name}" in status and article.stem in rag.documents()
    assert files_named(upload_folder(), name) == []  # the temporary copies are gone


def test_a_reader_page_shows_no_upload_control_and_a_writer_page_does(make_rag):
    page = ChatPage(make_rag(), Access(dict(ACCOUNTS), frozenset({"writer"})))
    assert page.load(FakeRequest("a", "reader"))[1]["visible"] is False
    assert page.load(FakeRequest("b", "writer"))[1]["visible"] is True
    assert READER_REFUSED in page.add(["/nonexistent/x.md"], request=FakeRequest("a", "reader"))[0]


# -- readers are bounded ----------------------------------------------------------------------------------
def test_the_gate_is_first_come_first_served_and_frees_a_place_however_a_question_ends():
    gate, order = Gate(waiting=3), []

    def ask(n: int) -> None:
        with gate.enter(n) as ticket:
            assert ticket.wait(10)
            order.append(n)

    with gate.enter("first") as head:
        threads = []
        for n in range(3):
            threads.append(threading.Thread(target=ask, args=(n,)))
            threads[-1].start()
            until(lambda n=n: len(gate) == n + 2, 5, f"question {n} joining the line")
        with pytest.raises(Refused, match="busy, try again in a moment"):
            gate.enter("late").__enter__()
        with pytest.raises(Refused, match="One question at a time"):
            gate.enter("first").__enter__()
        assert head.wait(0) and [t.is_alive() for t in threads] == [True] * 3
    for t in threads:
        t.join(10)
    assert order == [0, 1, 2] and len(gate) == 0
    with pytest.raises(ZeroDivisionError), gate.enter("boom"):
        1 / 0  # noqa: B018
    assert len(gate) == 0


def test_a_second_question_in_flight_from_the_same_session_is_refused(make_rag):
    generator = BlockingGenerator()
    gate = Gate(waiting=4)
    with served(make_rag(generator), gate=gate) as url:
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 30})
        first = client.submit(QUESTION, api_name="/ask")
        until(lambda: generator.entered == 1, what="the first question reaching the model")
        started = time.monotonic()
        with pytest.raises(Exception, match="One question at a time"):  # noqa: B017 - gradio_client's AppError
            client.submit("Where did the missiles crash?", api_name="/ask").result(timeout=10)
        refused_in = time.monotonic() - started
        generator.release.set()
        assert first.result(timeout=30)["question"] == QUESTION
        assert client.predict("Where did the missiles crash?", api_name="/ask")["citations"] is not None
    assert refused_in < 1.0

    page = ChatPage(make_rag(), gate=gate)
    with gate.enter("tab-1"):
        *_, (chat, _, turns, _) = page.answer(QUESTION, [], 5, None, [], FakeRequest("tab-1"))
    assert ONE_AT_A_TIME in chat and 'role="alert"' in chat


def test_a_full_line_answers_busy_within_a_second_on_the_api_and_the_page(make_rag):
    generator = BlockingGenerator()
    gate = Gate(waiting=2)
    rag = make_rag(generator)
    with served(rag, gate=gate) as url:
        clients = [Client(url, verbose=False, httpx_kwargs={"timeout": 30}) for _ in range(4)]
        questions = [f"Who killed Hamedani, asks reader {n}?" for n in range(3)]
        jobs = []
        for n, question in enumerate(questions):
            jobs.append(clients[n].submit(question, api_name="/ask"))
            until(lambda n=n: len(gate) == n + 1, what=f"question {n} joining the line")
        started = time.monotonic()
        with pytest.raises(Exception, match="busy, try again in a moment"):  # noqa: B017 - gradio_client's AppError
            clients[3].submit(QUESTION, api_name="/ask").result(timeout=10)
        api_refused_in = time.monotonic() - started

        started = time.monotonic()
        first = next(ChatPage(rag, gate=gate).answer(QUESTION, [], 5, None, [], FakeRequest("another-tab")))
        page_refused_in = time.monotonic() - started
        generator.release.set()
        answers = [job.result(timeout=30) for job in jobs]
    assert api_refused_in < 1.0 and page_refused_in < 1.0, (api_refused_in, page_refused_in)
    assert BUSY in first[0] and 'role="alert"' in first[0]
    assert [a["question"] for a in answers] == questions  # the admitted ones are answered, each its own


def test_a_waiting_page_shows_its_place_in_line(make_rag):
    gate = Gate(waiting=4)
    page = ChatPage(make_rag(), gate=gate)
    with ThreadPoolExecutor(1) as pool, gate.enter("someone else"):
        steps = page.answer(QUESTION, [], 5, None, [], FakeRequest("tab-2"))
        chat, *_ = pool.submit(next, steps).result(timeout=10)  # bounded: a page that never says so fails here
        assert "1 question ahead of yours" in chat and QUESTION in chat
    *_, (chat, sources, turns, history) = steps  # the line moved: the question is answered
    assert "ahead of yours" not in chat and "ISIS" in chat and len(turns) == 1 and len(history) == 1


def test_the_whole_page_and_api_share_one_line_with_one_request_in_the_model(make_rag):
    generator = BlockingGenerator()
    gate = Gate(waiting=8)
    with served(make_rag(generator), gate=gate) as url:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(lambda q: Client(url, verbose=False).predict(q, api_name="/ask"), f"{QUESTION} {n}")
                       for n in range(4)]
            until(lambda: len(gate) == 4, what="four questions in line")
            assert generator.entered == 1  # the others wait at the gate, not in the model
            generator.release.set()
            results = [f.result(timeout=60) for f in futures]
    assert sorted(r["question"] for r in results) == [f"{QUESTION} {n}" for n in range(4)]


# -- a brake on guessing passwords ---------------------------------------------------------------------------
def test_the_eleventh_wrong_login_within_a_minute_is_refused_and_the_right_one_works_after_the_lockout(
        make_rag, caplog):
    rag = make_rag(login_failures=10, login_window_s=60, login_lockout_s=1.5)
    with caplog.at_level(logging.WARNING), served(rag, Access(dict(ACCOUNTS))) as url:
        guesser = httpx.Client(base_url=url, timeout=30)
        codes = [guesser.post("login", data={"username": "reader", "password": f"guess-{n}"}).status_code
                 for n in range(11)]
        right_too_soon = guesser.post("login", data={"username": "reader", "password": ACCOUNTS["reader"]})
        assert codes == [400] * 10 + [429]
        assert right_too_soon.status_code == 429 and int(right_too_soon.headers["retry-after"]) >= 1
        assert "try again in" in right_too_soon.json()["detail"]
        time.sleep(1.6)
        assert guesser.post("login", data={"username": "reader", "password": ACCOUNTS["reader"]}).status_code == 200
    assert caplog.text.count("Wrong login for user 'reader' from 127.0.0.1") == 10
    assert "guess-" not in caplog.text and ACCOUNTS["reader"] not in caplog.text


def test_the_brake_counts_per_client_and_forgets_old_failures():
    now = [0.0]
    logins = Logins({"ann": "pw"}, failures=3, window_s=60, lockout_s=30, clock=lambda: now[0])

    from ui.access import _CLIENT

    def attempt(client: str, password: str) -> bool:
        token = _CLIENT.set(client)
        try:
            return logins.check("ann", password)
        finally:
            _CLIENT.reset(token)

    assert not attempt("10.0.0.1", "x") and not attempt("10.0.0.1", "y")
    now[0] = 61.0  # those two fell out of the window
    assert not attempt("10.0.0.1", "z") and not attempt("10.0.0.1", "z") and logins.retry_after("10.0.0.1") == 0
    assert not attempt("10.0.0.1", "z") and logins.retry_after("10.0.0.1") == 30
    assert logins.retry_after("10.0.0.2") == 0 and attempt("10.0.0.2", "pw")  # another client is not locked out
    now[0] = 91.5
    assert logins.retry_after("10.0.0.1") == 0 and attempt("10.0.0.1", "pw")
