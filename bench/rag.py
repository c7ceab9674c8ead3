"""The RAG extension: retrieval quality, indexing throughput, query latency, and answer accuracy.

Builds a corpus of self-written documents (fictional facts, plus a long filler document as
distractors), indexes it with the bundled all-MiniLM-L6-v2, and measures in one run:
  * recall@1, recall@5 and MRR of hybrid (vector + BM25) retrieval vs. vector-only retrieval
    (a question is answered by a chunk that contains its expected answer);
  * indexing throughput (chunks/s) and query latency (median and p95, ms);
  * answer accuracy of the bundled SmolLM2-135M (greedy) with vs. without retrieval.

    .venv/bin/python -m bench.rag [--filler 200] [--skip-answers]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from backends.loader import bundled_model_path
from backends.sampling import GREEDY
from bench.rag_corpus import DOCUMENTS, QUESTIONS, filler_document
from extensions.rag.embedder import Embedder
from extensions.rag.index import SHARED, RagIndex
from webui.chat.conversation import Message
from webui.chat.engine import ChatEngine
from webui.extensions.manager import ExtensionManager
from webui.model_manager import ModelManager

REPO = Path(__file__).resolve().parent.parent
SYSTEM = "You are a helpful assistant."


def retrieval_scores(index: RagIndex, hybrid: bool) -> tuple[float, float, float, list[float]]:
    """recall@1, recall@5, MRR and per-query latencies (seconds)."""
    ranks, latencies = [], []
    for question, answer in QUESTIONS:
        started = time.perf_counter()
        hits = index.search(question, [SHARED], k=10, hybrid=hybrid)
        latencies.append(time.perf_counter() - started)
        rank = next((i for i, hit in enumerate(hits, 1) if answer.lower() in hit.text.lower()), None)
        ranks.append(rank)
    n = len(QUESTIONS)
    recall1 = sum(1 for r in ranks if r == 1) / n
    recall5 = sum(1 for r in ranks if r is not None and r <= 5) / n
    mrr = sum(1 / r for r in ranks if r is not None) / n
    return recall1, recall5, mrr, latencies


def answer_accuracy(engine: ChatEngine) -> float:
    """The share of questions whose greedy answer contains the expected string."""
    params = GREEDY.model_copy(update={"max_new_tokens": 48})
    correct = 0
    for question, answer in QUESTIONS:
        reply = engine.reply([Message(role="user", content=question)], params)
        list(reply)
        text = reply.message().content.split("<details", 1)[0]
        correct += answer.lower() in text.lower()
    return correct / len(QUESTIONS)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--filler", type=int, default=200, help="paragraphs of distractor text")
    parser.add_argument("--skip-answers", action="store_true", help="skip the (slower) answer-accuracy part")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        data = root / "user_data"
        extensions = ExtensionManager(REPO / "extensions", data)
        extensions.enable("rag")
        index: RagIndex = extensions.get("rag").owner.index
        embedder: Embedder = index.embedder
        started = time.perf_counter()
        embedder.encode(["warm up"])
        print(f"embedding model loaded in {time.perf_counter() - started:.1f} s")

        files = {**DOCUMENTS, "filler.txt": filler_document(args.filler)}
        started, chunks = time.perf_counter(), 0
        for name, text in files.items():
            path = root / name
            path.write_text(text, encoding="utf-8")
            chunks += index.add(path, name, SHARED).chunks
        seconds = time.perf_counter() - started
        print(f"indexed {len(files)} documents, {chunks} chunks in {seconds:.2f} s: {chunks / seconds:.1f} chunks/s")

        for label, hybrid in (("hybrid (vector + BM25)", True), ("vector only", False)):
            r1, r5, mrr, latencies = retrieval_scores(index, hybrid)
            latencies.sort()
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            print(
                f"{label:24s} recall@1 {r1:.2f}  recall@5 {r5:.2f}  MRR {mrr:.3f}  "
                f"query latency median {statistics.median(latencies) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"
            )

        if args.skip_answers:
            return
        models = ModelManager()
        models.load(bundled_model_path())
        try:
            without = answer_accuracy(ChatEngine(models, SYSTEM))
            with_rag = answer_accuracy(ChatEngine(models, SYSTEM, extensions))
        finally:
            models.unload()
        print(
            f"answer accuracy of SmolLM2-135M on {len(QUESTIONS)} questions: without retrieval {without:.2f}, "
            f"with retrieval {with_rag:.2f}"
        )


if __name__ == "__main__":
    main()
