"""Admission to the model: one question in flight per session, a bounded line, and each one's place in it.

The model answers one question at a time on a 2-core machine. Without a bound, one client could
line up hundreds of questions and everyone behind them would wait minutes. The Gate refuses at
once instead: a second question from a session that already has one in flight, or any question
when ``waiting`` are already lined up behind the one being answered. Nothing here imports gradio.

    gate = Gate(waiting=8)
    with gate.enter(session) as ticket:  # raises Refused at once
        while not ticket.wait(0.5):      # True when it is this ticket's turn
            show(ticket.ahead())         # questions still ahead of this one
        answer()                         # alone in the model until the block ends
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

from rag import RagError

ONE_AT_A_TIME = "One question at a time: wait for the answer to your last question, then ask the next one."
BUSY = "The model is busy, try again in a moment: its line of waiting questions is full."


class Refused(RagError):  # noqa: N818 - reads as "the question was refused"
    """A question turned away at the door (one at a time, or the line is full); the message says which."""


class Ticket:
    """One admitted question's place in the line."""

    def __init__(self, gate: Gate, key: Hashable) -> None:
        self.gate, self.key = gate, key

    def ahead(self) -> int:
        """How many questions are before this one (0: it is being answered, or is next)."""
        with self.gate._changed:
            return self.gate._line.index(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it is this ticket's turn or ``timeout`` seconds pass; True if it is its turn."""
        with self.gate._changed:
            return self.gate._changed.wait_for(lambda: self.gate._line[0] is self, timeout)


class Gate:
    """A first-come first-served line in front of the model, at most ``waiting`` long behind its head."""

    def __init__(self, waiting: int) -> None:
        self.waiting = waiting
        self._line: list[Ticket] = []  # the head is being answered
        self._changed = threading.Condition()

    def __len__(self) -> int:
        with self._changed:
            return len(self._line)

    @contextmanager
    def enter(self, key: Hashable) -> Iterator[Ticket]:
        """Join the line as ``key`` (a session); leave it when the block ends, however it ends."""
        with self._changed:
            if any(t.key == key for t in self._line):
                raise Refused(ONE_AT_A_TIME)
            if len(self._line) > self.waiting:
                raise Refused(BUSY)
            ticket = Ticket(self, key)
            self._line.append(ticket)
        try:
            yield ticket
        finally:
            with self._changed:
                self._line.remove(ticket)
                self._changed.notify_all()
