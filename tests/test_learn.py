"""The Learn tab's logic on the bundled model through the real llama.cpp backend."""

from __future__ import annotations

import numpy as np
import pytest

from backends.base import GenerationRequest
from backends.errors import InvalidRequest, NotSupported
from backends.sampling import GREEDY, SamplingParams
from tests.fakes import ScriptedBackend
from webui.learn import render
from webui.learn.confidence import perplexity, score_tokens
from webui.learn.distribution import probabilities, stage_views
from webui.learn.embeddings import cosine_matrix, parse_sentences, pca_2d
from webui.learn.stepping import Trail, sample_next
from webui.learn.tokens import GGUFVocabulary, HFVocabulary, display_bytes, embedding_model_path, split_text

PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
)
TEXTS = ["The quick brown fox jumps over the lazy dog.", "大模型做的是文字接龙：根据输入给出下一个词。"]


def greedy_tokens(backend, ids: list[int], n: int) -> list[int]:
    params = GREEDY.model_copy(update={"max_new_tokens": n})
    return [t for chunk in backend.generate(GenerationRequest(prompt=ids, params=params)) for t in chunk.token_ids]


@pytest.mark.slow
@pytest.mark.parametrize("text", TEXTS)
def test_token_ids_detokenize_to_the_input(llama_backend, text: str) -> None:
    split = split_text(llama_backend, text)
    ids = [piece.token_id for piece in split.pieces]
    assert llama_backend.detokenize(ids) == text
    assert b"".join(piece.data for piece in split.pieces) == text.encode("utf-8")
    assert split.summary["tokens"] == len(ids) > 1
    assert split.summary["characters"] == len(text)


@pytest.mark.slow
def test_chinese_bytes_of_split_characters_are_escaped(llama_backend) -> None:
    pieces = split_text(llama_backend, "你好").pieces
    labels = [piece.label for piece in pieces]
    assert any("\\x" in label for label in labels), labels  # 你 is split between two byte-level tokens
    assert display_bytes("你".encode()) == "你"
    assert display_bytes(b"a\xe4\xbd") == "a\\xe4\\xbd"


@pytest.mark.slow
def test_control_tokens_show_their_name(llama_backend) -> None:
    (token,) = llama_backend.tokenize("<|im_end|>", special=True)
    assert llama_backend.token_bytes(token) == b"<|im_end|>"


@pytest.mark.slow
def test_vocab_only_gguf_tokenizer_matches_the_loaded_model(llama_backend, model_path) -> None:
    vocabulary = GGUFVocabulary(model_path)
    for text in TEXTS:
        assert vocabulary.tokenize(text) == llama_backend.tokenize(text)
        assert split_text(vocabulary, text) == split_text(llama_backend, text)


@pytest.mark.slow
def test_minilm_tokenizer_splits_differently() -> None:
    vocabulary = HFVocabulary(embedding_model_path())
    split = split_text(vocabulary, "Tokenization differs")
    labels = [piece.label for piece in split.pieces]
    assert "##" in "".join(labels)  # WordPiece marks word continuations
    assert all(piece.token_id > 0 for piece in split.pieces)


@pytest.mark.slow
def test_top20_is_a_valid_distribution_and_its_argmax_is_the_greedy_token(llama_backend) -> None:
    ids = llama_backend.tokenize(PROMPT)
    logits = llama_backend.next_token_logits(ids)
    assert logits.shape == (llama_backend.llama.n_vocab(),)
    assert abs(probabilities(logits).sum() - 1.0) < 1e-9
    raw = stage_views(logits, SamplingParams())[0]
    assert raw.name == "raw" and len(raw.top) == 20
    values = [c.probability for c in raw.top]
    assert all(0 < v <= 1 for v in values) and sum(values) <= 1 + 1e-9
    assert values == sorted(values, reverse=True)
    assert raw.top[0].token_id == int(np.argmax(logits)) == greedy_tokens(llama_backend, ids, 1)[0]


@pytest.mark.slow
def test_top_k_5_leaves_exactly_5_tokens_renormalized(llama_backend) -> None:
    ids = llama_backend.tokenize("Once upon a time, there was a")
    logits = llama_backend.next_token_logits(ids)
    params = SamplingParams(temperature=1.0, top_k=5, top_p=1.0, min_p=0.0)
    views = {view.name: view for view in stage_views(logits, params)}
    assert list(views) == ["raw", "top_k", "temperature"]
    after = views["top_k"]
    assert after.kept == 5 and len(after.top) == 5
    assert abs(sum(c.probability for c in after.top) - 1.0) < 1e-6
    raw = views["raw"].top[:5]
    assert [c.token_id for c in after.top] == [c.token_id for c in raw]
    mass = sum(c.probability for c in raw)
    for kept, before in zip(after.top, raw, strict=True):
        assert kept.probability == pytest.approx(before.probability / mass, rel=1e-4)


@pytest.mark.slow
def test_stages_follow_sampler_priority(llama_backend) -> None:
    logits = llama_backend.next_token_logits(llama_backend.tokenize("The sky is"))
    params = SamplingParams(top_k=10, top_p=0.5, min_p=0.1, sampler_priority=["min_p", "temperature", "top_p", "top_k"])
    names = [view.name for view in stage_views(logits, params)]
    assert names == ["raw", "min_p", "temperature", "top_p", "top_k"]
    kept = [view.kept for view in stage_views(logits, params)]
    assert kept[1] <= kept[0] and kept[-1] <= 10


@pytest.mark.slow
def test_picking_a_token_continues_generation_from_it(llama_backend) -> None:
    trail = Trail(tuple(llama_backend.tokenize(PROMPT)))
    top = stage_views(llama_backend.next_token_logits(trail.ids), GREEDY)[0].top
    second = top[1].token_id  # not what greedy decoding would choose
    picked = trail.pick(second)
    assert picked.ids[-1] == second and picked.back() == trail
    step = sample_next(llama_backend.next_token_logits(picked.ids), GREEDY, picked.ids, np.random.default_rng(0))
    expected = greedy_tokens(llama_backend, picked.ids, 3)
    assert step == expected[0]
    walked = picked.pick(step)
    for token in expected[1:]:
        nxt = sample_next(llama_backend.next_token_logits(walked.ids), GREEDY, walked.ids, np.random.default_rng(0))
        assert nxt == token
        walked = walked.pick(nxt)


@pytest.mark.slow
def test_confidence_of_a_greedy_reply(llama_backend) -> None:
    ids = llama_backend.tokenize(PROMPT)
    reply = greedy_tokens(llama_backend, ids, 8)
    scored = score_tokens(llama_backend, ids, reply)
    assert [s.token_id for s in scored] == reply
    for token in scored:  # greedy picked the most likely token every time
        assert token.alternatives[0].token_id == token.token_id
        assert token.probability == pytest.approx(token.alternatives[0].probability)
    assert 1.0 <= perplexity(scored) < 5.0
    html = render.confidence_html(scored, lambda t: display_bytes(llama_backend.token_bytes(t)), perplexity(scored))
    assert html.count("class='conf'") == len(reply)


def test_backends_without_learn_data_say_so() -> None:
    backend = ScriptedBackend()
    for call in (
        lambda: backend.next_token_logits([1]),
        lambda: backend.attentions([1]),
        lambda: backend.token_bytes(1),
    ):
        with pytest.raises(NotSupported, match="cannot show"):
            call()


def test_html_escapes_token_text() -> None:
    from webui.learn.distribution import Candidate, StageView
    from webui.learn.tokens import Split, TokenPiece

    evil = "<script>alert(1)</script>"
    split = Split(evil, (TokenPiece(7, evil.encode()),))
    assert "<script>" not in render.tokens_html(split, title=evil)
    view = StageView("raw", "", 1, (Candidate(7, 1.0),))
    assert "<script>" not in render.bars_svg(view, lambda _: evil)
    assert "<script>" not in render.matrix_html([evil, "x"], np.eye(2))
    assert "<script>" not in render.scatter_svg([evil, "x"], np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert "<script>" not in render.heatmap_svg([evil, "x"], np.eye(2), evil)


def test_cosine_and_pca_on_hand_built_vectors() -> None:
    vectors = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0]])
    matrix = cosine_matrix(vectors)
    assert np.allclose(np.diag(matrix), 1.0) and np.allclose(matrix, matrix.T)
    assert matrix[0, 1] > 0.9 > 0.1 > matrix[0, 2]
    points = pca_2d(vectors)
    assert points.shape == (3, 2)
    assert np.linalg.norm(points[0] - points[1]) < np.linalg.norm(points[0] - points[2])
    with pytest.raises(InvalidRequest, match="2 to"):
        parse_sentences("only one\n\n")


def test_stages_on_a_hand_built_distribution() -> None:
    logits = np.log(np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.05]))
    params = SamplingParams(temperature=1.0, top_k=0, top_p=0.75, min_p=0.3, sampler_priority=["top_p", "min_p"])
    views = {view.name: view for view in stage_views(logits, params)}
    assert list(views) == ["raw", "top_p", "min_p", "temperature"]  # top_k=0 does nothing: not shown
    assert [round(c.probability, 4) for c in views["top_p"].top] == [0.625, 0.25, 0.125]
    assert views["min_p"].kept == 2 and [c.token_id for c in views["min_p"].top] == [0, 1]
    biased = stage_views(logits, SamplingParams(logit_bias={5: -100.0}, top_k=0, top_p=1.0, min_p=0.0))
    assert biased[1].name == "logit_bias"
    assert biased[1].top[-1].token_id == 5 and biased[1].top[-1].probability < 1e-40
