import rag

from .conftest import heavy_after


def test_all_is_sorted_and_complete():
    assert rag.__all__ == sorted(rag.__all__)
    for name in rag.__all__:
        assert hasattr(rag, name), name
    for needed in ("RAG", "Config", "Answer", "Citation", "Chunk", "Hit", "RagError"):
        assert needed in rag.__all__


def test_errors_form_one_tree():
    for name in rag.__all__:
        obj = getattr(rag, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, rag.RagError)


def test_import_loads_no_heavy_library():
    assert heavy_after("rag") == []
