"""Lexical search (BM25 over content words)."""

from rag.retrieve import Lexical


def test_british_and_american_spellings_find_each_other():
    lexical = Lexical(["Russia’s defence ministry denied the claim made by the US.",
                       "Washington would stop its train-and-equip programme.",
                       "Defense Secretary Ash Carter warned NATO about Russia."])
    assert [row for row, _ in lexical.search("What did the Defense ministry deny?", 3)][:1] == [0]
    assert [row for row, _ in lexical.search("the train and equip program", 3)][:1] == [1]
    assert {row for row, _ in lexical.search("defence", 3)} == {0, 2}
