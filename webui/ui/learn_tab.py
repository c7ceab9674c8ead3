"""The Learn tab: tokens, next-token probabilities per sampler stage, confidence, embeddings, attention.

Model calls go through `ModelManager.exclusive()`, so they wait for a running generation instead of
running the model at the same time. What a backend cannot show is said in the tab, not hidden.
"""

from __future__ import annotations

import html
import random
import threading
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np

from backends.base import Backend
from backends.errors import AppError, InvalidRequest, NotSupported
from webui.app import App
from webui.chat.conversation import Message
from webui.i18n import language_of, t
from webui.i18n import text as tr
from webui.learn import render
from webui.learn.confidence import perplexity, score_tokens
from webui.learn.distribution import stage_views
from webui.learn.embeddings import cosine_matrix, parse_sentences, pca_2d
from webui.learn.stepping import Trail, sample_next
from webui.learn.tokens import Tokenizer, display_bytes, load_vocabulary, split_text, tokenizer_sources
from webui.settings import APP_DIR

MAX_ATTENTION_TOKENS = 40
MAX_CONFIDENCE_TOKENS = 1024  # one forward step per token
SAMPLE_TEXT = "The quick brown fox jumps over the lazy dog.\n大模型做的是文字接龙。"
SAMPLE_SENTENCES = "\n".join(
    [
        "The cat sat on the mat.",
        "A kitten is sleeping on the rug.",
        "Dogs love to play fetch in the park.",
        "The stock market fell sharply today.",
        "Shares dropped at the start of the week.",
        "I am learning how language models work.",
    ]
)

LEARN_CSS = """
.learn-tokens .tok-row { display: flex; flex-wrap: wrap; gap: 3px; margin-top: 6px; }
.learn-tokens .tok { display: inline-flex; flex-direction: column; align-items: center; padding: 1px 4px;
                     border-radius: 4px; color: #111; font-family: monospace; white-space: pre; }
.learn-tokens .tok-id { font-size: 10px; color: #555; }
.learn-tokens .tok-title { font-weight: bold; }
.learn-charts { display: flex; flex-wrap: wrap; gap: 8px; }
.learn-chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 4px; }
.learn-confidence .conf { color: #111; white-space: pre-wrap; border-radius: 2px; }
.learn-confidence .conf-legend span { color: #111; padding: 0 6px; }
.learn-matrix td, .learn-matrix th { padding: 2px 6px; font-size: 12px; color: #111; text-align: center; }
.learn-matrix .row-label { text-align: left; }
.learn-so-far { font-family: monospace; white-space: pre-wrap; }
.learn-so-far .chosen { background: #c7d2fe; color: #111; border-radius: 3px; }
.learn-note { padding: 8px 12px; border-left: 4px solid #f59e0b; background: #fffbeb; color: #111; }
"""


def _labeller(backend: Backend) -> Callable[[int], str]:
    return lambda token: display_bytes(backend.token_bytes(token))


def _note(message: str) -> str:
    return f"<div class='learn-note'>{html.escape(message)}</div>"


class LearnTab:
    """Builds the Learn tab; loaded tokenizers and the embedding model are kept per tab, loaded on first use."""

    def __init__(self, app: App, models_dir: Path | None = None) -> None:
        self.app = app
        self.models_dir = models_dir or APP_DIR / "models"
        self._lock = threading.Lock()
        self._vocabularies: dict[str, Tokenizer] = {}

    # ---- tokens --------------------------------------------------------------------------

    def _vocabulary(self, name: str) -> Tokenizer:
        sources = tokenizer_sources(self.models_dir)
        if name not in sources:  # only names we listed ever become a path
            raise InvalidRequest(f"unknown tokenizer {name!r}")
        with self._lock:
            if name not in self._vocabularies:
                self._vocabularies[name] = load_vocabulary(sources[name])
            return self._vocabularies[name]

    def split(self, text: str, other: str | None, request: gr.Request) -> tuple[str, str]:
        """Both tokenizers' view of `text`."""
        lang = language_of(request)
        try:
            loaded = self.app.models.loaded
            mine = render.tokens_html(split_text(loaded.backend, text), f"{loaded.name} ({loaded.loader})", lang)
            theirs = render.tokens_html(split_text(self._vocabulary(other), text), other, lang) if other else ""
        except NotSupported as exc:
            return _note(str(exc)), ""
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        return mine, theirs

    # ---- next token ----------------------------------------------------------------------

    def _show(self, trail: Trail, lang: str) -> tuple:
        """(trail, text so far, charts, candidates, status) for a trail."""
        with self.app.models.exclusive() as backend:
            logits = backend.next_token_logits(trail.ids)
            views = stage_views(logits, self.app.sampling, trail.ids)
            label = _labeller(backend)
            prompt = b"".join(backend.token_bytes(token) for token in trail.prompt_ids)
            chosen = "".join(f"<span class='chosen'>{html.escape(label(token))}</span>" for token in trail.chosen)
            choices = [
                (f"{render.visible(label(c.token_id))}  {c.probability:.1%}", str(c.token_id)) for c in views[0].top
            ]
        so_far = f"<div class='learn-so-far'>{html.escape(display_bytes(prompt))}{chosen}</div>"
        status = tr("learn.msg.step", lang, step=len(trail.chosen) + 1, count=len(trail.chosen))
        return trail, so_far, render.stages_html(views, label, lang), gr.update(choices=choices, value=None), status

    def _guard(self, work: Callable[[], tuple], outputs: int) -> tuple:
        try:
            return work()
        except NotSupported as exc:
            return (gr.skip(), _note(str(exc)), *[gr.skip()] * (outputs - 2))
        except AppError as exc:
            raise gr.Error(str(exc)) from exc

    def start(self, prompt: str, chat_format: bool, request: gr.Request) -> tuple:
        """A new trail from the prompt (raw text, or wrapped in the chat template)."""
        lang = language_of(request)

        def work() -> tuple:
            if not prompt.strip():
                raise InvalidRequest("write a prompt first")
            if chat_format:
                message = Message(role="user", content=prompt)
                ids = self.app.chat.build_prompt([message], self.app.sampling).token_ids
            else:
                backend, caps = self.app.models.loaded.backend, self.app.models.loaded.backend.capabilities
                ids = backend.tokenize(prompt, add_bos=caps.add_bos)
            return self._show(Trail(tuple(ids)), lang)

        return self._guard(work, 5)

    def from_reply(self, position: float | None, request: gr.Request) -> tuple:
        """Start inside the last chat reply, after its first `position` tokens."""

        def work() -> tuple:
            prompt_ids, _, reply = self._last_chat(language_of(request))
            reply_ids = self.app.models.loaded.backend.tokenize(reply, special=False)
            keep = max(0, min(int(position or 0), len(reply_ids)))
            return self._show(Trail(tuple(prompt_ids), tuple(reply_ids[:keep])), language_of(request))

        return self._guard(work, 5)

    def pick(self, choice: str | None, trail: Trail | None, request: gr.Request) -> tuple:
        """Continue with the clicked token."""
        if trail is None or not choice:
            return (gr.skip(),) * 5
        return self._guard(lambda: self._show(trail.pick(int(choice)), language_of(request)), 5)

    def step(self, trail: Trail | None, request: gr.Request) -> tuple:
        """Let the current preset choose the next token."""
        if trail is None:
            return (gr.skip(),) * 5
        params = self.app.sampling
        rng = np.random.default_rng(params.seed if params.seed >= 0 else random.randrange(2**32))

        def work() -> tuple:
            with self.app.models.exclusive() as backend:
                token = sample_next(backend.next_token_logits(trail.ids), params, trail.ids, rng)
            return self._show(trail.pick(token), language_of(request))

        return self._guard(work, 5)

    def back(self, trail: Trail | None, request: gr.Request) -> tuple:
        """Undo the last token."""
        if trail is None:
            return (gr.skip(),) * 5
        return self._guard(lambda: self._show(trail.back(), language_of(request)), 5)

    # ---- confidence ----------------------------------------------------------------------

    def _last_chat(self, lang: str) -> tuple[list[int], str, str]:
        """The newest saved chat ending in a reply: the prompt's ids and text (template applied), the reply."""
        for entry in self.app.chats.listing():
            if entry.error:
                continue
            chat = self.app.chats.load(entry.doc_id)
            if chat.messages and chat.messages[-1].role == "assistant":
                history = chat.messages[:-1]
                prompt = self.app.chat.build_prompt(history, self.app.sampling, system_prompt=chat.system_prompt)
                return prompt.token_ids, prompt.text, chat.messages[-1].content
        raise InvalidRequest(tr("learn.msg.no_reply", lang))

    def last_reply(self, request: gr.Request) -> tuple[str, str]:
        """The newest saved chat's last reply, and the prompt it answered (rendered with the template)."""
        try:
            _, prompt, reply = self._last_chat(language_of(request))
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        return prompt, reply

    def confidence(self, context: str, text: str, request: gr.Request) -> str:
        """`text` coloured by the probability of each token after `context`."""
        lang = language_of(request)
        if not text:
            return ""
        try:
            with self.app.models.exclusive() as backend:
                caps = backend.capabilities
                ids = backend.tokenize(text, special=False)
                if len(ids) > MAX_CONFIDENCE_TOKENS:
                    raise InvalidRequest(f"the text has {len(ids)} tokens; this view takes {MAX_CONFIDENCE_TOKENS}")
                context_ids = backend.tokenize(context, add_bos=caps.add_bos, special=True) if context else []
                lead = ""
                if not context_ids:  # nothing to predict the first token from: show it plain
                    context_ids, ids = ids[:1], ids[1:]
                    lead = html.escape(display_bytes(backend.token_bytes(context_ids[0]))) if context_ids else ""
                scored = score_tokens(backend, context_ids, ids)
                shown = render.confidence_html(scored, _labeller(backend), perplexity(scored), lang)
        except NotSupported as exc:
            return _note(str(exc))
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        return shown.replace("<div class='conf-text'>", f"<div class='conf-text'>{lead}", 1)

    # ---- embeddings and attention --------------------------------------------------------

    def embed(self, sentences: str) -> tuple[str, str]:
        """The cosine-similarity matrix and the PCA plot of the sentences."""
        try:
            lines = parse_sentences(sentences)
            with self._lock:
                vectors = np.asarray(self.app.embedder.encode(lines), dtype=np.float64)
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        return render.matrix_html(lines, cosine_matrix(vectors)), render.scatter_svg(lines, pca_2d(vectors))

    def attention(self, prompt: str, request: gr.Request) -> tuple:
        """One forward pass's attention weights; (state, layer slider, head slider)."""
        lang = language_of(request)
        try:
            with self.app.models.exclusive() as backend:
                ids = backend.tokenize(prompt, special=True)[:MAX_ATTENTION_TOKENS]
                if not ids:
                    raise InvalidRequest("write a prompt first")
                weights = backend.attentions(ids)
                labels = [display_bytes(backend.token_bytes(token)) for token in ids]
        except NotSupported:
            name = self.app.models.loaded.loader
            return None, gr.update(), gr.update(), _note(tr("learn.msg.no_attention", lang, backend=name))
        except AppError as exc:
            raise gr.Error(str(exc)) from exc
        layers, heads = weights.shape[:2]
        state = {"weights": weights, "labels": labels}
        layer = gr.update(maximum=layers - 1, value=0)
        head = gr.update(maximum=heads - 1, value=0)
        return state, layer, head, self.heatmap(state, 0, 0, request)

    def heatmap(self, state: dict | None, layer: float, head: float, request: gr.Request) -> str:
        """The heat-map of one layer and head."""
        if not state:
            return gr.skip()
        weights = state["weights"]
        layer_i = int(min(max(layer, 0), weights.shape[0] - 1))
        head_i = int(min(max(head, 0), weights.shape[1] - 1))
        title = tr("learn.msg.layer_head", language_of(request), layer=layer_i, head=head_i)
        return render.heatmap_svg(state["labels"], weights[layer_i, head_i], title)

    # ---- layout --------------------------------------------------------------------------

    def build(self) -> LearnTab:
        """Lay out the tab and wire its events."""
        gr.Markdown(t("learn.intro"))
        with gr.Tabs():
            with gr.Tab(t("learn.tokens.tab"), id="learn-tokens"):
                self._build_tokens()
            with gr.Tab(t("learn.next.tab"), id="learn-next"):
                self._build_next()
            with gr.Tab(t("learn.confidence.tab"), id="learn-confidence"):
                self._build_confidence()
            with gr.Tab(t("learn.embeddings.tab"), id="learn-embeddings"):
                self._build_embeddings()
            with gr.Tab(t("learn.attention.tab"), id="learn-attention"):
                self._build_attention()
        return self

    def _build_tokens(self) -> None:
        gr.Markdown(t("learn.tokens.explain"))
        text = gr.Textbox(SAMPLE_TEXT, label=t("learn.tokens.text"), lines=3, elem_id="learn-tokens-text")
        names = list(tokenizer_sources(self.models_dir))
        with gr.Row():
            other = gr.Dropdown(names, value=names[0] if names else None, label=t("learn.tokens.compare"))
            run = gr.Button(t("learn.tokens.split"), variant="primary", elem_id="learn-tokens-run")
        with gr.Row():
            mine = gr.HTML(elem_id="learn-tokens-loaded")
            theirs = gr.HTML(elem_id="learn-tokens-other")
        run.click(self.split, [text, other], [mine, theirs])

    def _build_next(self) -> None:
        gr.Markdown(t("learn.next.explain"))
        trail = gr.State(None)
        with gr.Row():
            prompt = gr.Textbox(
                "The capital of France is", label=t("learn.next.prompt"), lines=2, scale=4, elem_id="learn-next-prompt"
            )
            with gr.Column(scale=1):
                chat_format = gr.Checkbox(False, label=t("learn.next.chat_format"))
                run = gr.Button(t("learn.next.start"), variant="primary", elem_id="learn-next-run")
        with gr.Row():
            position = gr.Number(0, precision=0, minimum=0, label=t("learn.next.reply_position"), scale=2)
            from_reply = gr.Button(t("learn.next.from_reply"), elem_id="learn-next-from-reply", scale=1)
        so_far = gr.HTML(label=t("learn.next.so_far"), elem_id="learn-next-so-far")
        charts = gr.HTML(elem_id="learn-next-charts")
        pick = gr.Radio([], label=t("learn.next.pick"), elem_id="learn-next-pick")
        with gr.Row():
            step = gr.Button(t("learn.next.step"), elem_id="learn-next-step")
            back = gr.Button(t("learn.next.back"), elem_id="learn-next-back")
        status = gr.Markdown(elem_id="learn-next-status")
        outputs = [trail, so_far, charts, pick, status]
        run.click(self.start, [prompt, chat_format], outputs)
        from_reply.click(self.from_reply, [position], outputs)
        pick.input(self.pick, [pick, trail], outputs)
        step.click(self.step, [trail], outputs)
        back.click(self.back, [trail], outputs)

    def _build_confidence(self) -> None:
        gr.Markdown(t("learn.confidence.explain"))
        context = gr.Textbox(label=t("learn.confidence.context"), lines=3, elem_id="learn-conf-context")
        text = gr.Textbox(
            "Paris is the capital of France.", label=t("learn.confidence.text"), lines=4, elem_id="learn-conf-text"
        )
        with gr.Row():
            last = gr.Button(t("learn.confidence.last_reply"), elem_id="learn-conf-last")
            run = gr.Button(t("learn.confidence.run"), variant="primary", elem_id="learn-conf-run")
        shown = gr.HTML(elem_id="learn-conf-output")
        last.click(self.last_reply, None, [context, text]).then(self.confidence, [context, text], [shown])
        run.click(self.confidence, [context, text], [shown])

    def _build_embeddings(self) -> None:
        gr.Markdown(t("learn.embeddings.explain"))
        sentences = gr.Textbox(
            SAMPLE_SENTENCES, label=t("learn.embeddings.sentences"), lines=6, elem_id="learn-emb-sentences"
        )
        run = gr.Button(t("learn.embeddings.run"), variant="primary", elem_id="learn-emb-run")
        with gr.Row():
            matrix = gr.HTML(elem_id="learn-emb-matrix")
            scatter = gr.HTML(elem_id="learn-emb-scatter")
        run.click(self.embed, [sentences], [matrix, scatter])

    def _build_attention(self) -> None:
        gr.Markdown(t("learn.attention.explain"))
        state = gr.State(None)
        prompt = gr.Textbox(
            "The cat sat on the mat because it was tired.",
            label=t("learn.attention.prompt"),
            elem_id="learn-att-prompt",
        )
        with gr.Row():
            layer = gr.Slider(0, 1, step=1, value=0, label=t("learn.attention.layer"), elem_id="learn-att-layer")
            head = gr.Slider(0, 1, step=1, value=0, label=t("learn.attention.head"), elem_id="learn-att-head")
            run = gr.Button(t("learn.attention.run"), variant="primary", elem_id="learn-att-run")
        heatmap = gr.HTML(elem_id="learn-att-output")
        run.click(self.attention, [prompt], [state, layer, head, heatmap])
        for slider in (layer, head):
            slider.input(self.heatmap, [state, layer, head], [heatmap])
