"""Lexical search (BM25 over content words) and the fusion of the dense and BM25 rankings."""

import pytest

from rag import RAG
from rag.retrieve import Lexical, fuse


def test_british_and_american_spellings_find_each_other():
    lexical = Lexical(["Russia’s defence ministry denied the claim made by the US.",
                       "Washington would stop its train-and-equip programme.",
                       "Defense Secretary Ash Carter warned NATO about Russia."])
    assert [row for row, _ in lexical.search("What did the Defense ministry deny?", 3)][:1] == [0]
    assert [row for row, _ in lexical.search("the train and equip program", 3)][:1] == [1]
    assert {row for row, _ in lexical.search("defence", 3)} == {0, 2}


def test_fusion_ranks_by_reciprocal_rank_so_agreement_beats_one_list():
    dense = [(10, 0.9), (11, 0.8), (12, 0.7)]
    lexical = [(11, 5.0), (12, 4.0)]
    fused = fuse(dense, lexical, rrf_k=10)
    # 12 is only third by cosine, but second by BM25 too: it beats 10, first by cosine alone.
    assert [row for row, _ in fused] == [11, 12, 10]
    assert [score for _, score in fused] == pytest.approx([1 / 12 + 1 / 11, 1 / 13 + 1 / 12, 1 / 11])
    # Weighting the dense ranking ten times over puts its first row ahead of the one BM25 agrees on.
    assert [row for row, _ in fuse(dense, lexical, rrf_k=10, dense_weight=10)] == [11, 10, 12]


def test_equal_fused_scores_go_to_the_larger_sum_of_relative_scores():
    # Row 2 is first by cosine and second by BM25, row 1 the reverse: equal fused scores. Relative to each
    # list's best, row 2 sums to 1 + 19/20 and row 1 to 0.2/0.9 + 1, so row 2 wins, although row 1 has the
    # larger raw sum (20.2 against 19.9) and the lower row number.
    dense = [(2, 0.9), (1, 0.2)]
    lexical = [(1, 20.0), (2, 19.0)]
    fused = fuse(dense, lexical, rrf_k=10)
    assert fused[0][1] == fused[1][1]
    assert [row for row, _ in fused] == [2, 1]


def test_retrieval_fuses_with_the_configured_constant(corpus, tmp_path, fake_embedder):
    RAG.build(corpus, tmp_path / "index", embedder=fake_embedder)
    for rrf_k in (10, 60):
        top = RAG.open(tmp_path / "index", embedder=fake_embedder, rrf_k=rrf_k).retrieve("Who killed Hamedani?")[0]
        # The best passage is first in at least one ranking, and at best first in both.
        assert 1 / (rrf_k + 1) <= top.score <= 2 / (rrf_k + 1)
