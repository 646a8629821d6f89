"""The cold-start baseline: the same work as `rag ask` with the raw libraries and nothing else.

    .venv/bin/python bench/coldstart_bare.py INDEX_VERSION_DIR MODEL.gguf EMBEDDER_DIR "question"

Loads the sentence-transformers model, embeds the question, reads the FAISS file and the
passages, loads the GGUF model and streams a completion, printing the first piece as soon as
it comes. No BM25, no checks, no citation verification: the floor a fresh process cannot beat.
"""

import json
import sys


def main() -> None:
    version, model_path, embedder_path, question = sys.argv[1:5]
    import faiss
    import torch
    from llama_cpp import Llama
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    faiss.omp_set_num_threads(1)
    model = SentenceTransformer(embedder_path, device="cpu")
    vector = model.encode([question], normalize_embeddings=True, convert_to_numpy=True)
    index = faiss.read_index(f"{version}/faiss.index")
    _, rows = index.search(vector, 5)
    with open(f"{version}/chunks.jsonl", encoding="utf-8") as fh:
        lines = fh.readlines()
    passages = [json.loads(lines[r])["text"][:400] for r in rows[0] if r >= 0]
    numbered = "\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1))
    llm = Llama(model_path=model_path, n_ctx=2048, n_threads=2, n_threads_batch=2, verbose=False)
    messages = [{"role": "system", "content": "Answer from the numbered passages and cite the number."},
                {"role": "user", "content": f"Passages:\n{numbered}\n\nQuestion: {question}"}]
    for part in llm.create_chat_completion(messages, max_tokens=60, temperature=0.0, stream=True):
        text = part["choices"][0]["delta"].get("content")
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
