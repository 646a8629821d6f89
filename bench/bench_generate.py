"""Generation: rag's LlamaGenerator against bare llama-cpp-python, then the gold questions end to end.

1. The same rendered prompts (gold questions over the seed index), model file, threads, context,
   sampling and stop strings, streamed through LlamaGenerator.generate and through a separate
   llama_cpp.Llama's create_completion(stream=True); the two are interleaved prompt by prompt.
   Decode tokens/s counts streamed pieces after the first over the time after it (the prompt's
   evaluation is compared separately, as time to first token); whole-call tokens/s too. Medians
   over calls; the ratio is rag / bare (>= 0.95). Run at Config.n_threads (the target) and again
   at one thread, where other jobs on the machine disturb the comparison far less.
2. RAG.ask over the gold questions: prompt tokens, time to first token and whole-answer time
   from answer.timings, p50 and p95. A time budget bounds this on a busy machine; the figures
   say how many questions were asked.
3. The same with one llama.cpp thread instead of Config.n_threads, on a subset,
   interleaved question by question: on a machine shared with other jobs, two spinning threads
   on two cores can be several times slower than one.
"""

from __future__ import annotations

import time

from .common import Context, gold_questions, log, median, percentile

ASK_BUDGET_S = 180  # full run: stop asking gold questions after this long (a busy machine can be 10x slower)
ASK_BUDGET_QUICK_S = 30
ONE_THREAD_QUESTIONS = 6
CHECK_QUESTIONS = 10


def _decode_rate(sample: tuple[float, float, int]) -> float:
    """Tokens/s after the first token: generation proper, without the prompt's evaluation."""
    first, total, n = sample
    return (n - 1) / (total - first) if n > 1 and total > first else float("nan")


def _stream(pieces) -> tuple[float, float, int]:
    """(seconds to the first piece, seconds in all, pieces) of an iterator of text pieces."""
    start = time.perf_counter()
    first, n = 0.0, 0
    for _ in pieces:
        if not n:
            first = time.perf_counter() - start
        n += 1
    return first, time.perf_counter() - start, n


def run(ctx: Context) -> None:
    from rag import RAG
    from rag.generate import LlamaGenerator
    from rag.prompts import build_prompt

    r = ctx.results
    r.section("3. generation")
    config = ctx.config
    rag = RAG.open(ctx.seed_index(), embedder=ctx.embedder)
    generator = rag.generator()
    if not isinstance(generator, LlamaGenerator):
        raise RuntimeError("the configured generator is not rag's LlamaGenerator")
    log(f"model {generator.name} ({generator.path}), {config.n_threads} threads")

    # -- rag's generator against bare llama-cpp-python ------------------------------------------------
    gold = gold_questions()
    prompts = []
    for question in [gold[-1], *gold[: 1 if ctx.quick else 3]]:  # the first is the warm-up, never measured
        prompts.append(build_prompt(question, rag.retrieve(question), config.passage_tokens, generator.count_tokens,
                                    generator.family))
    _compare(ctx, generator, prompts, "generate", target=0.95)
    _lookup(ctx, generator, prompts)
    _saved_opening(ctx, generator)
    if not ctx.quick and config.n_threads != 1:
        one = LlamaGenerator(config.llm, config.n_ctx, 1, config.temperature, config.seed, config.cache_dir)
        _compare(ctx, one, prompts, "generate.threads1", target=None)

    # -- the gold questions end to end ------------------------------------------------------------------
    questions = gold_questions(8 if ctx.quick else None)
    budget = ASK_BUDGET_QUICK_S if ctx.quick else ASK_BUDGET_S
    log(f"RAG.ask over {len(questions)} gold questions (budget {budget} s)")
    if not ctx.quick:
        rag.ask(questions[0])  # warm-up (in the quick run the comparison above has warmed the model)
    timings = []
    start = time.perf_counter()
    for q in questions:
        timings.append(rag.ask(q).timings)
        if time.perf_counter() - start > budget:
            break
    ran = [t for t in timings if t.completion_tokens]
    r.add("generate.questions", len(timings), note=f"of {len(questions)}; {len(ran)} ran the model, the rest abstained first")
    r.add("generate.prompt_tokens_p50", median(t.prompt_tokens for t in ran))
    r.add("generate.prompt_tokens_p95", percentile((t.prompt_tokens for t in ran), 95))
    r.add("generate.completion_tokens_p50", median(t.completion_tokens for t in ran))
    r.add("generate.ttft_p50_s", median(t.first_token_ms for t in ran) / 1000, "s", ("<=", 2.0),
          note="question in to first token, retrieval included")
    r.add("generate.ttft_p95_s", percentile((t.first_token_ms for t in ran), 95) / 1000, "s")
    # The target is on answers the model wrote: the rest (titles, nothing relevant) take milliseconds
    # and, when they are most of a small spread, would make the median say nothing about generation.
    r.add("generate.answer_p50_s", median(t.total_ms for t in ran) / 1000, "s", ("<=", 3.0),
          note=f"whole answer, verified citations included; the {len(ran)} questions that ran the model")
    r.add("generate.answer_p95_s", percentile((t.total_ms for t in ran), 95) / 1000, "s")
    r.add("generate.answer_all_p50_s", median(t.total_ms for t in timings) / 1000, "s",
          note="all questions asked, those answered without the model included")
    _follow_ups(ctx, rag)
    _check_cost(ctx, rag, questions[: 3 if ctx.quick else CHECK_QUESTIONS])
    if not ctx.quick:
        _one_thread(ctx, rag, questions[:ONE_THREAD_QUESTIONS])


def _compare(ctx: Context, generator, prompts: list, prefix: str, target: float | None) -> None:
    """Stream the same prompts through ``generator`` and a bare Llama with the same settings, interleaved."""
    from llama_cpp import Llama

    r = ctx.results
    config = ctx.config
    threads = generator.n_threads
    bare = Llama(**generator.load_settings())  # the generator's own settings, so the baseline cannot drift

    def bare_generate(prompt):
        text, stops = generator.render(prompt)
        stream = bare.create_completion(text, stream=True, **generator.sampling(config.max_tokens, stops))
        return (part for part in stream if part["choices"][0]["text"])

    def ours_generate(prompt):
        return generator.generate(prompt, config.max_tokens)

    warmup, measured = prompts[0], prompts[1:]
    rounds = 1 if ctx.quick else 2
    log(f"rag generator vs bare llama.cpp, {threads} thread(s): {len(measured)} prompts x {rounds} rounds (+ warm-up)")
    _stream(ours_generate(warmup))
    _stream(bare_generate(warmup))
    ours, plain = [], []
    for i in range(rounds):
        for j, prompt in enumerate(measured):
            pair = [(ours, ours_generate), (plain, bare_generate)]
            for sink, fn in pair if (i + j) % 2 == 0 else pair[::-1]:
                sink.append(_stream(fn(prompt)))
    tokens_ours, tokens_plain = sum(n for *_, n in ours), sum(n for *_, n in plain)
    r.compare(f"{prefix}.decode_tokens_per_s", median(_decode_rate(x) for x in ours),
              median(_decode_rate(x) for x in plain), "tokens/s", f"Llama.create_completion(stream=True), {threads} thr",
              target=target)
    r.compare(f"{prefix}.tokens_per_s", median(n / t for _, t, n in ours), median(n / t for _, t, n in plain),
              "tokens/s", "bare (whole call)")
    r.compare(f"{prefix}.first_token_ms", median(f for f, _, _ in ours) * 1000, median(f for f, _, _ in plain) * 1000,
              "ms", "bare", higher_is_better=False)
    r.add(f"{prefix}.same_token_counts", tokens_ours == tokens_plain, note=f"{tokens_ours} vs {tokens_plain} tokens")


def _one_thread(ctx: Context, rag, questions: list[str]) -> None:
    """TTFT and answer time with llama.cpp at n_threads=1 against Config.n_threads, interleaved.

    Only the LLM's threads differ; the question is embedded the same way in both.
    """
    from rag import RAG

    r = ctx.results
    config = ctx.config
    single = RAG.open(rag.store.path.parent, config=config.with_values({"n_threads": 1}), embedder=ctx.embedder)
    log(f"llama.cpp n_threads={config.n_threads} vs 1 over {len(questions)} questions, interleaved")
    single.ask(questions[0])  # warm-up: loads the one-thread model
    ours, one = [], []
    for i, q in enumerate(questions):
        pair = [(ours, rag), (one, single)]
        for sink, which in pair if i % 2 == 0 else pair[::-1]:
            sink.append(which.ask(q).timings)
    n = config.n_threads
    r.add(f"generate.llama_threads{n}.ttft_p50_s", median(t.first_token_ms for t in ours) / 1000, "s")
    r.add("generate.llama_threads1.ttft_p50_s", median(t.first_token_ms for t in one) / 1000, "s")
    r.add(f"generate.llama_threads{n}.answer_p50_s", median(t.total_ms for t in ours) / 1000, "s")
    r.add("generate.llama_threads1.answer_p50_s", median(t.total_ms for t in one) / 1000, "s",
          note=f"same {len(questions)} questions, RAG_N_THREADS=1")


def _check_cost(ctx: Context, rag, questions: list[str]) -> None:
    """What the reader's check costs: whole answers with RAG_CHECK at its default against RAG_CHECK=0,
    the same questions, model and passages, interleaved (the check is two one-token calls, `rag.generate.CHECKS`)."""
    from rag import RAG

    r = ctx.results
    if not rag.config.check:
        return
    unchecked = RAG.open(rag.store.path.parent, config=rag.config.with_values({"check": 0.0}), embedder=ctx.embedder,
                         generator=rag.generator())
    checked, plain, triples = [], [], []
    for i, q in enumerate(questions):
        pair = [(checked, rag), (plain, unchecked)]
        for sink, which in pair if i % 2 == 0 else pair[::-1]:
            answer = which.ask(q)
            if answer.timings.completion_tokens:
                sink.append(answer.timings.total_ms / 1000)
                if which is rag and answer.hits:
                    triples.append((q, answer.hits[0].chunk.text, answer.draft))
    if checked and plain:
        r.compare("generate.check.answer_p50_s", median(checked), median(plain), "s",
                  f"the same {len(questions)} questions with RAG_CHECK=0", higher_is_better=False)
    _check_calls(ctx, rag.generator(), triples)


def _check_calls(ctx: Context, generator, triples: list[tuple[str, str, str]]) -> None:
    """The check alone: `LlamaGenerator.check` (both questions in one context, the passage and question evaluated
    once) against the same two prompts each evaluated from its own opening with nothing shared, the way two
    contexts of their own read them; the same (question, passage, draft) triples, interleaved."""
    r = ctx.results
    if not triples or not getattr(generator, "chat", False):
        return
    shared, apart = [], []
    for i, (question, passage, draft) in enumerate(triples):
        prompts = generator.check_prompts(question, " ".join(passage.split()), draft)
        pair = [(shared, _together, (generator, question, passage, draft)), (apart, _alone, (generator, prompts))]
        for sink, call, args in pair if i % 2 == 0 else pair[::-1]:
            start = time.perf_counter()
            call(*args)
            sink.append(time.perf_counter() - start)
    r.compare("generate.check.call_p50_s", median(shared), median(apart), "s",
              f"the two check prompts each read from its own opening, {len(triples)} answers", higher_is_better=False)


def _together(generator, question: str, passage: str, draft: str) -> None:
    generator._check_memo.clear()  # the requote's reuse is not measured: each answer is checked once
    generator.check(question, passage, draft)


def _alone(generator, prompts: list) -> None:
    for prompt in prompts:
        generator._yes(prompt, generator.tokenize(prompt)[0], 0)


LOOKUP_DRAFTS = (2, 4)  # prompt-lookup decoding: tokens drafted from the prompt per step


def _lookup(ctx: Context, generator, prompts: list) -> None:
    """Prompt-lookup decoding (llama.cpp drafts tokens by matching the prompt, then verifies them in one
    batch) against plain decoding, same model, prompts and settings, interleaved: whole-answer time ratio."""
    from rag.generate import LlamaGenerator

    r = ctx.results
    config = ctx.config
    warmup, measured = prompts[0], prompts[1:]
    for n in LOOKUP_DRAFTS[:1] if ctx.quick else LOOKUP_DRAFTS:
        drafted = LlamaGenerator(generator.name, generator.n_ctx, generator.n_threads, generator.temperature,
                                 generator.seed, config.cache_dir, lookup_tokens=n)
        _stream(drafted.generate(warmup, config.max_tokens))
        _stream(generator.generate(warmup, config.max_tokens))
        plain, looked = [], []
        same = True
        for j, prompt in enumerate(measured):
            pair = [(plain, generator), (looked, drafted)]
            for sink, which in pair if j % 2 == 0 else pair[::-1]:
                sink.append(_stream(which.generate(prompt, config.max_tokens)))
            same &= "".join(drafted.generate(prompt, config.max_tokens)) == "".join(generator.generate(prompt, config.max_tokens))
        r.compare(f"generate.lookup{n}.answer_s", median(t for _, t, _ in looked), median(t for _, t, _ in plain), "s",
                  "plain decoding, same prompts", higher_is_better=False)
        r.add(f"generate.lookup{n}.same_text", same, note="greedy answers identical with and without the drafts")
        del drafted


def _saved_opening(ctx: Context, generator) -> None:
    """An evaluated prompt opening kept on disk (`LlamaGenerator._evaluate_opening`): the rewriter's opening
    (instructions and six worked examples) put into a fresh context from its saved state, against llama.cpp
    evaluating the same tokens, interleaved, in one context of the generator's own settings."""
    import tempfile
    from pathlib import Path

    from rag import conversation

    r = ctx.results
    opening = generator._opening(conversation.rewrite_prompt("warm up", []))
    llm = generator._load(draft_model=None)
    kept = generator.states_dir
    saved, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        generator.states_dir = Path(tmp)
        try:
            generator._evaluate_opening(llm, opening)  # evaluated and saved
            for _ in range(1 if ctx.quick else 3):
                start = time.perf_counter()
                llm.reset()
                llm.eval(opening)
                plain.append(time.perf_counter() - start)
                start = time.perf_counter()
                generator._evaluate_opening(llm, opening)
                saved.append(time.perf_counter() - start)
        finally:
            generator.states_dir = kept
    r.compare("generate.saved_opening_s", median(saved), median(plain), "s",
              f"llama.cpp evaluating the rewriter's opening ({len(opening)} tokens)", higher_is_better=False)


def _follow_ups(ctx: Context, rag) -> None:
    """What the conversation costs: a follow-up's rewrite (rewrite_ms, one model call), and a standalone
    question asked with a history (no call: nothing to resolve), beside the same question with none."""
    r = ctx.results
    rag.warm()  # as `rag serve` does: the rewriter's opening is in its context before the first follow-up
    first = rag.ask("Who killed Hamedani?")
    pairs = [("When was he killed?", "When was Hamedani killed?"),
             ("Where were they fired from?", "Where were the missiles fired from?")]
    history = [first]
    rewrites, standalone, alone = [], [], []
    for follow, _ in pairs[: 1 if ctx.quick else 2]:
        rewrites.append(rag.ask(follow, history=history).timings.rewrite_ms)
    for question in ("How many sorties did Russian aircraft carry out?", "Who is John Kerry's Russian counterpart?"):
        standalone.append(rag.ask(question, history=history).timings.rewrite_ms)
        alone.append(rag.ask(question).timings.rewrite_ms)
    r.add("conversation.rewrite_p50_s", median(rewrites) / 1000, "s", ("<=", 0.8),
          note="a follow-up's rewrite into a standalone question (one model call)")
    r.compare("conversation.standalone_read_ms", median(standalone), median(alone), "ms",
              "the same questions with no history", higher_is_better=False)
