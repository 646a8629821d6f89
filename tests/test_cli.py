"""The command line: one clear sentence and a non-zero exit for every bad input, no traceback."""

import subprocess
import sys

import pytest

from .conftest import ROOT


def rag(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def _one_sentence(result):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question(tmp_path, question):
    assert "empty" in _one_sentence(rag("ask", question, "--index", str(tmp_path / "none")))


def test_missing_index_names_the_command(tmp_path):
    line = _one_sentence(rag("ask", "Who killed Hamedani?", "--index", str(tmp_path / "none")))
    assert "No index" in line and "rag index" in line


def test_too_long_question(tmp_path):
    assert "limit" in _one_sentence(rag("ask", "x" * 5000, "--index", str(tmp_path / "none")))


def test_unknown_setting_in_the_environment(tmp_path):
    import os

    line = _one_sentence(rag("ask", "hi", env={**os.environ, "RAG_NOPE": "1"}))
    assert "RAG_NOPE" in line


def test_missing_documents_folder(tmp_path):
    line = _one_sentence(rag("index", "--docs", str(tmp_path / "nope"), "--index", str(tmp_path / "i")))
    assert "does not exist" in line
    assert not (tmp_path / "i" / "CURRENT").exists()


def test_help_lists_the_commands():
    out = rag("--help").stdout
    for command in ("index", "ask", "eval", "serve"):
        assert command in out
