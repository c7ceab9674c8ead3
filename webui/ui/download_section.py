"""The Models tab's Download section: list a hub repo's files, pick a quantization, download with progress, cancel.

The handlers (`list_files`, `download`, `cancel`, `poll`) work on the App's `DownloadManager` and return what the
components show, so they can be called without a browser. The token typed in the password box is used for one
request and never put back into the page; left blank, HF_TOKEN (or a stored `hf auth login` token) is used.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from typing import Any

import gradio as gr

from backends.errors import AppError
from webui.downloads import DownloadManager, DownloadProgress, RepoListing, list_repo_files, parse_repo_ref
from webui.i18n import t
from webui.ui.models_tab import ModelsTab, human_size  # sizes as the models table shows them

#: The choice that downloads the whole repository (safetensors and config; pickle weights skipped).
WHOLE_REPO = "__whole_repository__"
WHOLE_REPO_LABEL = "whole repository (safetensors, pickle skipped)"
STATE_ICONS = {"queued": "⏳", "running": "⬇️", "verifying": "🔎", "done": "✅", "failed": "❌", "cancelled": "⏹"}

BAR_STYLE = "height:12px;border:1px solid var(--border-color-primary);border-radius:6px;overflow:hidden"
FILL_STYLE = "height:100%;background:var(--color-accent)"
ERROR_STYLE = "color:var(--error-text-color, #c00)"


@dataclass
class Listed:
    """What "List files" found: the repo text it listed and each choice's files (kept per browser session)."""

    repo: str
    choices: dict[str, list[str]]


def _token(value: Any) -> str | None:
    text = str(value or "").strip()
    return text or None


def files_table(listing: RepoListing) -> str:
    """The repository's files with sizes and kinds, as an HTML table (names escaped)."""
    rows = "".join(
        f"<tr><td>{html.escape(f.name)}</td><td>{f.kind}</td><td>{human_size(f.size)}</td></tr>" for f in listing.files
    )
    gated = "<p>🔒 This repository is gated: the download needs a token that may read it.</p>" if listing.gated else ""
    head = (
        f"<p><b>{html.escape(listing.repo_id)}</b> @ {html.escape(listing.revision)} "
        f"(commit <code>{html.escape(listing.commit[:12])}</code>) · {len(listing.files)} files</p>{gated}"
    )
    return f"{head}<table><tr><th>File</th><th>Kind</th><th>Size</th></tr>{rows}</table>"


def choices_of(listing: RepoListing) -> dict[str, list[str]]:
    """Download choices by label: each complete GGUF quantization (a split set as one), and the whole repo."""
    choices: dict[str, list[str]] = {}
    for choice in listing.gguf_choices():
        if choice.complete:
            parts = f" · {len(choice.files)} parts" if len(choice.files) > 1 else ""
            label = f"{choice.quantization or '?'} · {choice.label} · {human_size(choice.size)}{parts}"
            choices[label] = list(choice.files)
    if any(f.kind in ("safetensors", "pickle") for f in listing.files):
        choices[WHOLE_REPO_LABEL] = []
    return choices


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def job_html(p: DownloadProgress) -> str:
    """One job: name, state, an HTML progress bar, bytes, speed, ETA and the error if any."""
    percent = 100 * p.fraction
    speed = f"{human_size(p.speed_bytes_per_s)}/s" if p.speed_bytes_per_s else "-"
    error = f"<div class='dl-error' style='{ERROR_STYLE}'>{html.escape(p.error)}</div>" if p.error else ""
    return (
        f"<div class='dl-job' style='margin:6px 0' data-job='{p.job_id}' data-state='{p.state}'>"
        f"<div>{STATE_ICONS.get(p.state, '')} <b>{html.escape(p.destination)}</b> from {html.escape(p.repo_id)}"
        f" · <span class='dl-state'>{p.state}</span></div>"
        f"<div class='dl-bar' style='{BAR_STYLE}' role='progressbar' aria-valuenow='{percent:.1f}'>"
        f"<div class='dl-fill' style='{FILL_STYLE};width:{percent:.1f}%'></div></div>"
        f"<div><span class='dl-percent'>{percent:.1f}%</span> · {human_size(p.done_bytes)} / "
        f"{human_size(p.total_bytes)} · {speed} · ETA {_eta(p.eta_s)}</div>{error}</div>"
    )


def jobs_html(jobs: list[DownloadProgress]) -> str:
    """Every job, newest first (or a line saying there are none)."""
    if not jobs:
        return "<p>No downloads yet.</p>"
    return "".join(job_html(p) for p in jobs)


def _job_choices(jobs: list[DownloadProgress]) -> list[tuple[str, str]]:
    return [(f"{p.destination} ({p.state})", p.job_id) for p in jobs if not p.finished]


class DownloadSection:
    """The Download section's handlers over one `DownloadManager`."""

    def __init__(self, manager: DownloadManager) -> None:
        self.manager = manager

    def list_files(self, repo: str, token: Any) -> tuple[str, Any, Listed | None]:
        """List the repo's files and its download choices; an error becomes a warning and the message."""
        try:
            ref = parse_repo_ref(str(repo or "").strip(), self.manager.endpoint)
            listing = list_repo_files(ref, _token(token), self.manager.endpoint)
        except AppError as exc:
            gr.Warning(html.escape(str(exc)))
            failure = f"<p class='dl-error' style='{ERROR_STYLE}'>❌ {html.escape(str(exc))}</p>"
            return failure, gr.update(choices=[], value=None), None
        choices = choices_of(listing)
        if not choices:
            note = "<p>⚠️ Nothing to download here: no GGUF or safetensors weights.</p>"
            return files_table(listing) + note, gr.update(choices=[], value=None), None
        first = next(iter(choices))
        labels = [(label, label) for label in choices]
        return files_table(listing), gr.update(choices=labels, value=first), Listed(str(repo).strip(), choices)

    def download(self, repo: str, token: Any, choice: Any, listed: Listed | None) -> tuple[str, Any, Any, str]:
        """Start downloading the chosen files: (jobs view, cancel choices, timer, message)."""
        try:
            if listed is None or listed.repo != str(repo or "").strip() or choice not in listed.choices:
                hint = "List the repository's files and pick what to download first."
                gr.Warning(hint)
                return self._view(message=f"⚠️ {hint}")
            ref = parse_repo_ref(listed.repo, self.manager.endpoint)
            files = listed.choices[choice] or None  # None: the whole repository, pickle skipped
            self.manager.models_dir.mkdir(parents=True, exist_ok=True)
            progress = self.manager.start(ref, files, _token(token))
        except AppError as exc:
            gr.Warning(html.escape(str(exc)))
            return self._view(message=f"❌ {exc}")
        return self._view(selected=progress.job_id, message=f"Downloading {progress.destination} …")

    def cancel(self, job_id: Any) -> tuple[str, Any, Any, str]:
        """Cancel the selected job (it stops at the next chunk and keeps its partial file to resume)."""
        if not job_id:
            gr.Warning("Pick a running download to cancel.")
            return self._view(message="")
        try:
            progress = self.manager.cancel(str(job_id))
        except AppError as exc:
            gr.Warning(html.escape(str(exc)))
            return self._view(message=f"❌ {exc}")
        return self._view(message=f"Cancelling {progress.destination} (the partial file is kept to resume).")

    def poll(self, seen: dict[str, str] | None) -> tuple[str, Any, Any, dict[str, str], bool]:
        """The jobs view for the timer: (html, cancel choices, timer, states seen, whether a job just finished)."""
        seen = dict(seen or {})
        jobs = self.manager.jobs()
        finished = False
        for p in jobs:
            before = seen.get(p.job_id)
            if p.state == "done" and before != "done":
                finished = True
            if p.state == "failed" and before != "failed":  # seen starts from the jobs at page load
                gr.Warning(html.escape(f"Download of {p.destination} failed: {p.error}"))
            seen[p.job_id] = p.state
        view, cancel_choices, timer, _ = self._view(jobs=jobs, keep_choices=True)
        return view, cancel_choices, timer, seen, finished

    def states(self) -> dict[str, str]:
        """Each job's state now (what a page has seen when it opens)."""
        return {p.job_id: p.state for p in self.manager.jobs()}

    def _view(
        self,
        jobs: list[DownloadProgress] | None = None,
        selected: str | None = None,
        message: str = "",
        keep_choices: bool = False,
    ) -> tuple[str, Any, Any, str]:
        jobs = self.manager.jobs() if jobs is None else jobs
        choices = _job_choices(jobs)
        ids = [job_id for _, job_id in choices]
        if keep_choices:
            cancel_update = gr.update(choices=choices) if ids else gr.update(choices=[], value=None)
        else:
            cancel_update = gr.update(choices=choices, value=selected if selected in ids else (ids[0] if ids else None))
        running = any(not p.finished for p in jobs)
        return jobs_html(jobs), cancel_update, gr.Timer(active=running), message

    # ---- layout

    def build(self, tab: ModelsTab) -> None:
        """Add the section's components to the Models tab and wire them (the list refreshes after a download)."""
        hint = (
            t("download.token.env")
            if os.environ.get("HF_TOKEN")
            else t("download.token.placeholder")  # the value itself is never put into the page
        )
        with gr.Accordion(t("download.title"), open=True, elem_id="download-section"):
            with gr.Row():
                repo = gr.Textbox(
                    label=t("download.repo"), placeholder="org/repo, org/repo:branch or a hub URL", scale=3,
                    elem_id="download-repo",
                )  # fmt: skip
                token = gr.Textbox(
                    label=t("download.token"), type="password", placeholder=hint, scale=2, elem_id="download-token"
                )
                list_button = gr.Button(t("download.list"), elem_id="download-list", scale=1)
            files = gr.HTML(elem_id="download-files")
            with gr.Row():
                choice = gr.Dropdown(label=t("download.choice"), choices=[], elem_id="download-choice", scale=3)
                download_button = gr.Button(t("download.start"), variant="primary", elem_id="download-start", scale=1)
            message = gr.Markdown(elem_id="download-message")
            jobs = gr.HTML(elem_id="download-jobs")
            with gr.Row():
                job = gr.Dropdown(label=t("download.job"), choices=[], elem_id="download-job", scale=3)
                cancel_button = gr.Button(t("download.cancel"), variant="stop", elem_id="download-cancel", scale=1)
            timer = gr.Timer(1.0, active=False)
        listed = gr.State(None)
        self._seen = seen = gr.State({})
        view = [jobs, job, timer, message]
        self._page_view = [jobs, job, timer]

        list_button.click(self.list_files, [repo, token], [files, choice, listed])
        repo.submit(self.list_files, [repo, token], [files, choice, listed])
        download_button.click(self.download, [repo, token, choice, listed], view)
        cancel_button.click(self.cancel, job, view)

        def tick(seen_states: dict[str, str] | None, selected: str | None) -> tuple:
            html_view, job_update, timer_update, states, finished = self.poll(seen_states)
            refreshed = tab.refresh(selected) if finished else (gr.skip(),) * len(tab.refresh_outputs)
            return html_view, job_update, timer_update, states, *refreshed

        timer.tick(tick, [seen, tab.selector], [jobs, job, timer, seen, *tab.refresh_outputs], show_progress="hidden")
        tab.refresh_button.click(lambda: self._view()[:3], None, self._page_view)

    def on_page_load(self, demo: gr.Blocks) -> None:
        """Show the jobs when a page opens, polling if one is running (e.g. started from another browser)."""
        demo.load(lambda: (*self._view()[:3], self.states()), None, [*self._page_view, self._seen])
