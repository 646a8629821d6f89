"""Who may open the page, who may add articles, and the door in front of Gradio that checks both.

- `Access`: the accounts (user -> password) and who may upload. Without accounts there is no
  login, and `check_exposure` then refuses any address other than loopback.
- `Logins`: checks a password for Gradio's login form and locks a client (its IP address) out
  after ``login_failures`` wrong logins within ``login_window_s``, for ``login_lockout_s``.
  A failure is logged with the user name and the address, never the password.
- `Guard`: ASGI middleware in front of Gradio's routes. It refuses a locked-out client's logins
  (429), and uploads to ``/gradio_api/upload`` from anyone who may not add articles (403), of a
  type the library does not index (415) or of more files than one upload may add (413); what
  Gradio had already stored for a refused upload is deleted.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag import DOCUMENT_SUFFIXES, DOCUMENT_TYPES, Config, ConfigError

log = logging.getLogger(__name__)

READER_REFUSED = "Only writers may add articles; ask whoever runs the server to name you with --writers."
_CLIENT: ContextVar[str] = ContextVar("rag_login_client", default="an unknown address")  # set by Guard for Logins
_TRACKED = 4096  # clients with recent wrong logins kept in memory at most; the stalest are forgotten first


@dataclass(frozen=True)
class Access:
    """The accounts and the writers. ``accounts`` is left out of repr so passwords never reach a log."""

    accounts: Mapping[str, str] = field(default_factory=dict, repr=False)  # user -> password; empty: no login
    writers: frozenset[str] = frozenset()  # users who may add articles
    anyone_writes: bool = False  # everyone who may open the page may add articles

    def may_write(self, user: str | None) -> bool:
        return self.anyone_writes or (user is not None and user in self.writers)

    def with_account(self, user: str, password: str) -> Access:
        return replace(self, accounts={**self.accounts, user: password})

    @classmethod
    def from_options(cls, auth: str | None = None, auth_file: str | None = None, writers: str | None = None,
                     allow_uploads: bool = False) -> Access:
        """The access `rag serve --auth --auth-file --writers --allow-uploads` asks for; ConfigError if it is unclear."""
        accounts = dict(read_accounts(auth_file)) if auth_file else {}
        if auth is not None:
            user, password = parse_auth(auth)
            accounts[user] = password
        names = frozenset(w.strip() for w in (writers or "").split(",") if w.strip())
        if names and allow_uploads:
            raise ConfigError("Give either --allow-uploads (everyone may add articles) or --writers (only they may), "
                              "not both.")
        unknown = sorted(names - set(accounts))
        if unknown:
            raise ConfigError(f"--writers names {', '.join(unknown)}, who has no account; give accounts with --auth "
                              "user:password or --auth-file FILE.")
        return cls(accounts, names, allow_uploads)


LOCAL = Access(anyone_writes=True)  # build_app's default: one person on this machine, no login, uploads on


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """'user:pass' -> ('user', 'pass'); the password may contain colons."""
    if auth is None:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ConfigError("--auth must look like user:password, with both parts non-empty.")
    return user, password


def read_accounts(path: str | Path) -> list[tuple[str, str]]:
    """The accounts in a file of ``user:password`` lines; blank lines and lines starting with # are skipped.

    Errors name the line, never its text, so a password never reaches the console.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the accounts file {path} ({getattr(exc, 'strerror', None) or exc}).") from None
    if mode & 0o077:
        log.warning("The accounts file %s can be read by other users of this machine; `chmod 600` it.", path)
    accounts: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, sep, password = line.partition(":")
        user = user.strip()
        if not sep or not user or not password:
            raise ConfigError(f"Line {number} of {path} must look like user:password, with both parts non-empty.")
        if user in accounts:
            raise ConfigError(f"Line {number} of {path} gives the user {user} a second time.")
        accounts[user] = password
    if not accounts:
        raise ConfigError(f"The accounts file {path} holds no user:password line.")
    return list(accounts.items())


def is_loopback(host: str) -> bool:
    """True for addresses only this machine reaches: 'localhost', 127.0.0.0/8, ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, access: Access) -> None:
    """Refuse to serve beyond this machine without accounts."""
    if not access.accounts and not is_loopback(host):
        raise ConfigError(f"Serving on {host} lets other machines reach the page, so it needs accounts: give "
                          "--auth user:password, or --auth-file FILE with one user:password a line.")


class Logins:
    """Password checks with a per-client brake: after ``failures`` wrong logins within ``window_s``
    seconds, that client's logins are refused for ``lockout_s`` seconds, right password or not."""

    def __init__(self, accounts: Mapping[str, str], failures: int = 10, window_s: float = 60.0,
                 lockout_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._accounts = {u: p.encode() for u, p in accounts.items()}
        self.failures, self.window_s, self.lockout_s, self.clock = failures, window_s, lockout_s, clock
        self._failed: dict[str, deque[float]] = {}  # client -> times of its recent wrong logins
        self._locked: dict[str, float] = {}  # client -> when its lockout ends
        self._lock = threading.Lock()

    @classmethod
    def of(cls, config: Config, accounts: Mapping[str, str]) -> Logins:
        return cls(accounts, config.login_failures, config.login_window_s, config.login_lockout_s)

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 if it is not locked out."""
        with self._lock:
            left = self._locked.get(client, 0.0) - self.clock()
            if left <= 0:
                self._locked.pop(client, None)
            return max(left, 0.0)

    def check(self, user: str, password: str) -> bool:
        """Gradio's ``auth`` callable: True if the password is right. The client is the one Guard saw."""
        expected = self._accounts.get(user)
        right = hmac.compare_digest(password.encode(), expected if expected is not None else b"\0" * 32)
        right = right and expected is not None
        client = _CLIENT.get()
        with self._lock:
            if right:
                self._failed.pop(client, None)
                return True
            now = self.clock()
            recent = self._failed.setdefault(client, deque())
            while recent and recent[0] <= now - self.window_s:
                recent.popleft()
            recent.append(now)
            count = len(recent)
            if count >= self.failures:
                self._locked[client] = now + self.lockout_s
                del self._failed[client]
            self._forget_stale(now)
        shown = user[:64]
        if count >= self.failures:
            log.warning("Wrong login for user %r from %s: %d within %g s, so its logins are refused for %g s.",
                        shown, client, count, self.window_s, self.lockout_s)
        else:
            log.warning("Wrong login for user %r from %s (%d within %g s; at %d its logins are refused for %g s).",
                        shown, client, count, self.window_s, self.failures, self.lockout_s)
        return False

    def _forget_stale(self, now: float) -> None:
        if len(self._failed) <= _TRACKED:
            return
        for client in [c for c, times in self._failed.items() if times[-1] <= now - self.window_s]:
            del self._failed[client]
        while len(self._failed) > _TRACKED:
            del self._failed[next(iter(self._failed))]


def discard(paths: Iterable[str | Path], folder: str | Path) -> None:
    """Delete uploaded temporary copies (and their emptied folders), only ever inside ``folder``."""
    root = Path(folder).resolve()
    for raw in paths:
        path = Path(raw).resolve()
        if root not in path.parents:
            continue
        path.unlink(missing_ok=True)
        if path.parent != root:
            try:
                path.parent.rmdir()
            except OSError:
                pass  # another upload with the same content still lives there


class Guard:
    """ASGI middleware for `gradio.Blocks.launch(app_kwargs={"middleware": [...]})` (see the module docstring)."""

    def __init__(self, app: Any, access: Access, logins: Logins | None, max_files: int, upload_folder: str) -> None:
        self.app, self.access, self.logins = app, access, logins
        self.max_files, self.upload_folder = max_files, upload_folder

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        root, path = scope.get("root_path", ""), scope["path"]
        route = (path[len(root):] if root and path.startswith(root) else path).rstrip("/")
        if route == "/login" and self.logins is not None:
            return await self._login(scope, receive, send)
        if route == "/gradio_api/upload":
            return await self._upload(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _login(self, scope: dict, receive: Callable, send: Callable) -> None:
        assert self.logins is not None
        client = (scope.get("client") or ("an unknown address",))[0]
        wait = self.logins.retry_after(client)
        if wait > 0:
            seconds = math.ceil(wait)
            return await _reply(send, 429, f"Too many wrong logins from this address; try again in {seconds} s.",
                                [(b"retry-after", str(seconds).encode())])
        token = _CLIENT.set(client)
        try:
            await self.app(scope, receive, send)
        finally:
            _CLIENT.reset(token)

    async def _upload(self, scope: dict, receive: Callable, send: Callable) -> None:
        user = _user(scope)
        if user is None and self.logins is not None:
            return await _reply(send, 401, "Not authenticated; log in first.")
        if not self.access.may_write(user):
            return await _reply(send, 403, READER_REFUSED)
        start: dict = {}
        body: list[bytes] = []

        async def keep(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(scope, receive, keep)  # Gradio stores the files and moves them into place before returning
        data = b"".join(body)
        if start.get("status") == 200:
            stored = [p for p in json.loads(data) if isinstance(p, str)]
            wrong = [Path(p).name for p in stored if Path(p).suffix.lower() not in DOCUMENT_SUFFIXES]
            if wrong or len(stored) > self.max_files:
                discard(stored, self.upload_folder)
                blocks = getattr(scope.get("app"), "blocks", None)
                if blocks is not None:
                    blocks.upload_file_set.difference_update(stored)
                if wrong:
                    return await _reply(send, 415, f"{wrong[0]} is not a {DOCUMENT_TYPES} file; only those can be "
                                                   "added, so nothing was stored.")
                return await _reply(send, 413, f"{len(stored)} files were sent; at most {self.max_files} can be "
                                               "added at once (setting max_upload_files), so nothing was stored.")
        await send(start)
        await send({"type": "http.response.body", "body": data})


def _user(scope: dict) -> str | None:
    """The logged-in user of a request, as Gradio's own `get_current_user` finds it (None without login)."""
    app = scope.get("app")
    if app is None or getattr(app, "auth", None) is None:
        return None
    from starlette.requests import HTTPConnection

    cookies = HTTPConnection(scope).cookies
    token = cookies.get(f"access-token-{app.cookie_id}") or cookies.get(f"access-token-unsecure-{app.cookie_id}")
    return app.tokens.get(token)


async def _reply(send: Callable, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def upload_folder() -> str:
    """Where Gradio stores uploads (GRADIO_TEMP_DIR, else the system's temporary folder)."""
    from gradio.utils import get_upload_folder

    return get_upload_folder()
