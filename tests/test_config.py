import pytest

from rag import MAX_K, Config, ConfigError


def test_defaults_env_and_overrides_in_that_order():
    config = Config.load({"k": 3}, env={"RAG_K": "7", "RAG_LLM": "gemma3"})
    assert config.k == 3 and config.llm == "gemma3"
    assert Config.load(env={"RAG_K": "7"}).k == 7
    assert Config.load(env={}).k == Config().k


def test_unknown_keys_are_errors():
    with pytest.raises(ConfigError, match="RAG_KAY"):
        Config.load(env={"RAG_KAY": "3"})
    with pytest.raises(ConfigError, match="kay"):
        Config.load({"kay": 3}, env={})


@pytest.mark.parametrize("key,value", [("k", "many"), ("k", 0), ("chunk_sentences", 5), ("n_ctx", -1)])
def test_bad_values_are_errors(key, value):
    with pytest.raises(ConfigError):
        Config.load({key: value}, env={})


def test_every_field_has_a_comment():
    import inspect
    from dataclasses import fields

    import rag.config

    source = inspect.getsource(rag.config)

    for f in fields(Config):
        line = next(line for line in source.splitlines() if line.strip().startswith(f"{f.name}:"))
        assert "#" in line, f.name


def test_yes_no_settings_read_the_usual_words():
    assert Config.load(env={"RAG_SPELLING": "0"}).spelling is False
    assert Config.load(env={"RAG_SPELLING": "yes"}).spelling is True
    assert Config.load({"spelling": False}, env={}).spelling is False
    with pytest.raises(ConfigError, match="spelling must be bool"):
        Config.load(env={"RAG_SPELLING": "maybe"})


def test_k_may_reach_max_k_and_no_further():
    assert Config.load({"k": MAX_K}, env={}).k == MAX_K
    with pytest.raises(ConfigError, match=f"at most {MAX_K}"):
        Config.load({"k": MAX_K + 1}, env={})
