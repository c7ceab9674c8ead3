"""HTML and SVG for the Learn tab. Every piece of user or model text goes through `html.escape`."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import numpy as np

from webui.i18n import text as tr
from webui.learn.confidence import ScoredToken
from webui.learn.distribution import StageView
from webui.learn.tokens import Split, display_bytes

PALETTE = ("#fde68a", "#bbf7d0", "#bfdbfe", "#fbcfe8", "#ddd6fe", "#fed7aa", "#a5f3fc")
Label = Callable[[int], str]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def visible(text: str) -> str:
    """A token's text with spaces and line breaks made visible (· and ↵)."""
    return text.replace(" ", "·").replace("\n", "↵").replace("\t", "→")


def tokens_html(split: Split, title: str = "", lang: str = "en") -> str:
    """Coloured token chips, each with its id underneath and its bytes on hover."""
    chips = []
    for index, piece in enumerate(split.pieces):
        colour = PALETTE[index % len(PALETTE)]
        hover = f"id {piece.token_id} · bytes {piece.data.hex(' ')}"
        chips.append(
            f"<span class='tok' style='background:{colour}' title='{_e(hover)}'>"
            f"<span class='tok-text'>{_e(visible(piece.label))}</span>"
            f"<span class='tok-id'>{piece.token_id}</span></span>"
        )
    counts = split.summary
    head = f"<div class='tok-title'>{_e(title)}</div>" if title else ""
    words = tr(
        "learn.msg.summary",
        lang,
        tokens=counts["tokens"],
        characters=counts["characters"],
        bytes=counts["bytes"],
        ratio=counts["chars_per_token"],
    )
    summary = f"<div class='tok-summary'>{words}</div>"
    return f"<div class='learn-tokens'>{head}{summary}<div class='tok-row'>{''.join(chips)}</div></div>"


def bars_svg(view: StageView, label: Label, width: int = 360, lang: str = "en") -> str:
    """A horizontal bar chart of one stage's top tokens (probabilities in percent)."""
    row, top_pad, text_w = 18, 34, 110
    height = top_pad + row * max(1, len(view.top)) + 8
    bar_w = width - text_w - 60
    title = view.setting if view.setting.startswith(view.name) else f"{view.name}: {view.setting}".rstrip(": ")
    possible = tr("learn.msg.tokens_possible", lang, count=view.kept)
    parts = [
        f"<svg class='learn-bars' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{_e(title)}'>",
        f"<text x='4' y='14' font-size='13' font-weight='bold'>{_e(title)}</text>",
        f"<text x='4' y='28' font-size='11' fill='#666'>{_e(possible)}</text>",
    ]
    for index, candidate in enumerate(view.top):
        y = top_pad + index * row
        length = max(1.0, bar_w * candidate.probability)
        text = visible(label(candidate.token_id))[:16]
        parts.append(
            f"<g><title>{_e(f'id {candidate.token_id}: {candidate.probability:.2%}')}</title>"
            f"<text x='{text_w - 4}' y='{y + 13}' font-size='12' text-anchor='end' "
            f"font-family='monospace'>{_e(text)}</text>"
            f"<rect x='{text_w}' y='{y + 2}' width='{length:.1f}' height='{row - 5}' fill='#6366f1'/>"
            f"<text x='{text_w + length + 4:.1f}' y='{y + 13}' font-size='11'>{candidate.probability:.1%}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def stages_html(views: Sequence[StageView], label: Label, lang: str = "en") -> str:
    """One bar chart per stage, left to right in the order the sampler applies them."""
    charts = "".join(f"<div class='learn-chart'>{bars_svg(view, label, lang=lang)}</div>" for view in views)
    return f"<div class='learn-charts'>{charts}</div>"


def _confidence_colour(probability: float) -> str:
    """Red (unlikely) through yellow to green (likely)."""
    hue = int(120 * max(0.0, min(1.0, probability)))
    return f"hsl({hue}, 85%, 78%)"


def confidence_html(scored: Sequence[ScoredToken], label: Label, perplexity: float, lang: str = "en") -> str:
    """The text with each token coloured by its probability; the top alternatives on hover."""
    spans = []
    for token in scored:
        alternatives = ", ".join(f"{label(c.token_id)!r} {c.probability:.1%}" for c in token.alternatives)
        hover = f"p = {token.probability:.1%} · id {token.token_id}\n{alternatives}"
        text = display_bytes(token.data)
        spans.append(
            f"<span class='conf' style='background:{_confidence_colour(token.probability)}' "
            f"title='{_e(hover)}'>{_e(text)}</span>"
        )
    legend = (
        "<div class='conf-legend'><span style='background:hsl(0,85%,78%)'>0%</span>"
        "<span style='background:hsl(60,85%,78%)'>50%</span><span style='background:hsl(120,85%,78%)'>100%</span>"
        f" · {_e(tr('learn.msg.confidence', lang, count=len(scored), perplexity=perplexity))}</div>"
    )
    return f"<div class='learn-confidence'>{legend}<div class='conf-text'>{''.join(spans)}</div></div>"


def matrix_html(labels: Sequence[str], matrix: np.ndarray) -> str:
    """A table of pairwise similarities, each cell shaded by its value."""
    head = "".join(f"<th title='{_e(text)}'>{index + 1}</th>" for index, text in enumerate(labels))
    rows = []
    for i, text in enumerate(labels):
        cells = []
        for j in range(len(labels)):
            value = float(matrix[i, j])
            shade = int(255 - 155 * max(0.0, value))
            cells.append(f"<td style='background:rgb({shade},{shade},255)'>{value:.2f}</td>")
        rows.append(f"<tr><th class='row-label'>{i + 1}. {_e(text[:40])}</th>{''.join(cells)}</tr>")
    return f"<table class='learn-matrix'><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def scatter_svg(labels: Sequence[str], points: np.ndarray, size: int = 420) -> str:
    """The 2-D projection as a labelled scatter plot."""
    pad = 40
    span = np.ptp(points, axis=0)
    span[span == 0] = 1.0
    scaled = (points - points.min(axis=0)) / span * (size - 2 * pad) + pad
    parts = [
        f"<svg class='learn-scatter' xmlns='http://www.w3.org/2000/svg' width='{size + 160}' height='{size}'>",
        f"<rect x='0' y='0' width='{size + 160}' height='{size}' fill='#fafafa' stroke='#ddd'/>",
    ]
    for index, (text, (x, y)) in enumerate(zip(labels, scaled, strict=True)):
        y = size - y  # the first component grows to the right, the second upwards
        parts.append(
            f"<g><title>{_e(text)}</title><circle cx='{x:.1f}' cy='{y:.1f}' r='6' "
            f"fill='{PALETTE[index % len(PALETTE)]}' stroke='#333'/>"
            f"<text x='{x + 9:.1f}' y='{y + 4:.1f}' font-size='12'>{index + 1}. {_e(text[:28])}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def heatmap_svg(labels: Sequence[str], weights: np.ndarray, title: str, cell: int = 22) -> str:
    """An attention matrix: row i is how much token i looks at each earlier token j."""
    n = len(labels)
    left, top = 110, 110
    size_w, size_h = left + n * cell + 10, top + n * cell + 10
    parts = [
        f"<svg class='learn-heatmap' xmlns='http://www.w3.org/2000/svg' width='{size_w}' height='{size_h}'>",
        f"<text x='4' y='16' font-size='13' font-weight='bold'>{_e(title)}</text>",
    ]
    for i, text in enumerate(labels):
        short = _e(visible(text)[:14])
        parts.append(
            f"<text x='{left - 4}' y='{top + i * cell + cell * 0.7:.1f}' font-size='11' text-anchor='end' "
            f"font-family='monospace'>{short}</text>"
            f"<text transform='translate({left + i * cell + cell * 0.7:.1f},{top - 4}) rotate(-60)' "
            f"font-size='11' font-family='monospace'>{short}</text>"
        )
        for j in range(n):
            value = float(weights[i, j])
            shade = int(255 - 235 * max(0.0, min(1.0, value)))
            parts.append(
                f"<rect x='{left + j * cell}' y='{top + i * cell}' width='{cell - 1}' height='{cell - 1}' "
                f"fill='rgb({shade},{shade},255)'><title>{_e(f'{text!r} → {labels[j]!r}: {value:.3f}')}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)
