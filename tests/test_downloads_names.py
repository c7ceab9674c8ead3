"""Repo references, file-name safety and download plans: pure checks, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.errors import InvalidRequest
from webui.downloads.hub import RepoFile, RepoListing, file_kind, group_gguf, quantization
from webui.downloads.plan import plan_download
from webui.downloads.refs import RepoRef, parse_repo_ref
from webui.downloads.safety import check_no_collisions, check_repo_filename, resolve_inside

COMMIT = "a" * 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("org/repo", RepoRef("org/repo")),
        ("  bartowski/Qwen2.5-0.5B-Instruct-GGUF  ", RepoRef("bartowski/Qwen2.5-0.5B-Instruct-GGUF")),
        ("org/repo:dev", RepoRef("org/repo", "dev")),
        ("org/repo:refs/pr/1", RepoRef("org/repo", "refs/pr/1")),
        ("org/repo:" + COMMIT, RepoRef("org/repo", COMMIT)),
        ("https://huggingface.co/org/repo", RepoRef("org/repo")),
        ("https://huggingface.co/org/repo/", RepoRef("org/repo")),
        ("https://hf.co/org/repo/tree/v1.0", RepoRef("org/repo", "v1.0")),
        ("https://huggingface.co/org/repo/tree/refs%2Fpr%2F3", RepoRef("org/repo", "refs/pr/3")),
        ("https://huggingface.co/org/repo/blob/main/m.Q4_K_M.gguf", RepoRef("org/repo", "main", "m.Q4_K_M.gguf")),
        (
            "https://huggingface.co/org/repo/resolve/dev/sub/m.gguf?download=true",
            RepoRef("org/repo", "dev", "sub/m.gguf"),
        ),
        ("http://127.0.0.1:9999/org/repo/tree/dev", RepoRef("org/repo", "dev")),
    ],
)
def test_parse_repo_ref_accepts_the_hub_forms(text: str, expected: RepoRef) -> None:
    assert parse_repo_ref(text, endpoint="http://127.0.0.1:9999") == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "repo-without-org",
        "../..",
        "org/../x",
        "org/repo/extra",
        "org /repo",
        "org/re po",
        "org/-repo",
        "org/repo.",
        "org/re--po",
        "org/re..po",
        "o" * 300 + "/repo",
        "org/" + "r" * 97,
        "org/repo:",
        "org/repo:main/../x",
        "org/repo:../main",
        "org/repo:/main",
        "org/repo:main/",
        "org/repo:ma in",
        "org/repo:main.lock",
        "org/repo:" + "b" * 300,
        "org/repo:main\x00",
        "https://evil.example/org/repo",
        "ftp://huggingface.co/org/repo",
        "https://huggingface.co/datasets/org/data",
        "https://huggingface.co/org",
        "https://huggingface.co/org/repo/commits/main",
        "https://huggingface.co/org/repo/tree/..%2F..",
        "https://huggingface.co/org/repo/blob/main",
        "https://huggingface.co/org%2F..%2F../repo",
    ],
)
def test_parse_repo_ref_rejects_what_is_not_of_the_hubs_form(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    with pytest.raises(InvalidRequest) as caught:
        parse_repo_ref(text)
    assert len(str(caught.value)) < 400  # a clear one-line message, not the 300-character input echoed back


@pytest.mark.parametrize(
    "name",
    ["../../x", "..\\..\\x", "/etc/x", "C:\\x", "c:x", "a/../../x", "a//b", "a/", "./a", "a/./b", "", "a\x00b",
     "a\nb", "x" * 300, "ok/" + "y" * 256],
)  # fmt: skip
def test_hostile_file_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequest, match="refusing the download"):
        check_repo_filename(name)


@pytest.mark.parametrize("name", ["model.gguf", "sub/dir/model-00001-of-00002.gguf", ".gitattributes", "a..b.json"])
def test_ordinary_file_names_pass(name: str) -> None:
    assert check_repo_filename(name) == name


def test_names_that_collide_on_case_insensitive_or_normalising_file_systems_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="same file"):
        check_no_collisions(["Model.gguf", "model.GGUF"])
    with pytest.raises(InvalidRequest, match="same file"):
        check_no_collisions(["caf\u00e9.json", "cafe\u0301.json"])  # NFC vs NFD "café"
    check_no_collisions(["a/model.gguf", "b/model.gguf"])


def test_resolve_inside_refuses_escapes_also_through_symlinks(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    assert resolve_inside(models, "a/b.gguf") == models.resolve() / "a" / "b.gguf"
    (models / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidRequest, match="outside the models folder"):
        resolve_inside(models, "link/x.gguf")


def _listing(*names: str, size: int = 10) -> RepoListing:
    files = tuple(RepoFile(n, size, "0" * 64, None, file_kind(n)) for n in names)
    return RepoListing("org/repo", "main", COMMIT, files)


def test_file_kinds_and_quantization_names() -> None:
    names = ["a.Q4_K_M.gguf", "a-00002-of-00003.gguf", "model.safetensors", "pytorch_model.bin", "x.pt"]
    names += ["config.json", "tokenizer.model", "README.md"]
    kinds = ["gguf", "gguf-split", "safetensors", "pickle", "pickle", "config", "config", "other"]
    assert [file_kind(n) for n in names] == kinds
    assert quantization("Qwen2.5-0.5B-Instruct-Q4_K_M.gguf") == "Q4_K_M"
    assert quantization("SmolLM2-135M-Instruct.Q4_1.gguf") == "Q4_1"
    assert quantization("model-bf16.gguf") == "BF16"
    assert quantization("model.gguf") is None


def test_split_sets_are_one_choice_and_incomplete_sets_are_marked() -> None:
    listing = _listing("m-Q8_0-00001-of-00002.gguf", "m-Q8_0-00002-of-00002.gguf", "m-Q4_K_M.gguf",
                       "big-Q2_K-00001-of-00003.gguf", "big-Q2_K-00003-of-00003.gguf")  # fmt: skip
    choices = {c.label: c for c in group_gguf(listing.files)}
    assert set(choices) == {"m-Q8_0.gguf", "m-Q4_K_M.gguf", "big-Q2_K.gguf"}
    assert choices["m-Q8_0.gguf"].files == ("m-Q8_0-00001-of-00002.gguf", "m-Q8_0-00002-of-00002.gguf")
    assert choices["m-Q8_0.gguf"].size == 20 and choices["m-Q8_0.gguf"].complete
    assert not choices["big-Q2_K.gguf"].complete
    assert choices["m-Q8_0.gguf"].quantization == "Q8_0"


def test_plans_pick_one_gguf_choice_or_the_safetensors_repo_without_pickle() -> None:
    ggufs = _listing("m-Q8_0-00001-of-00002.gguf", "m-Q8_0-00002-of-00002.gguf", "m-Q4_K_M.gguf", "README.md")
    with pytest.raises(InvalidRequest, match="pick one"):
        plan_download(ggufs)
    plan = plan_download(ggufs, ["m-Q8_0-00002-of-00002.gguf"])  # one part picks the whole set
    assert plan.mode == "gguf" and plan.destination == "m-Q8_0-00001-of-00002.gguf"
    assert [t.relative for t in plan.targets] == ["m-Q8_0-00001-of-00002.gguf", "m-Q8_0-00002-of-00002.gguf"]
    with pytest.raises(InvalidRequest, match="one GGUF quantization"):
        plan_download(ggufs, ["m-Q4_K_M.gguf", "m-Q8_0-00001-of-00002.gguf"])

    hf = _listing("config.json", "model.safetensors", "pytorch_model.bin", "sub/tokenizer.json")
    plan = plan_download(hf)
    assert plan.mode == "folder" and plan.destination == "org_repo"
    assert [t.relative for t in plan.targets] == ["config.json", "model.safetensors", "sub/tokenizer.json"]
    assert "pytorch_model.bin" in [t.relative for t in plan_download(hf, include_pickle=True).targets]


def test_a_hostile_name_anywhere_in_the_repo_refuses_the_whole_download() -> None:
    with pytest.raises(InvalidRequest, match="refusing the download"):
        plan_download(_listing("good.Q4_0.gguf", "../../evil.gguf"), ["good.Q4_0.gguf"])
    with pytest.raises(InvalidRequest, match="same file"):
        plan_download(_listing("config.json", "model.safetensors", "Model.safetensors"))
    with pytest.raises(InvalidRequest, match="same file"):  # picked by name: still checked
        plan_download(_listing("sub/Config.json", "sub/config.json"), ["sub/Config.json", "sub/config.json"])


def test_a_url_on_the_hf_endpoint_host_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example.org")
    assert parse_repo_ref("https://hub.example.org/org/repo/tree/dev") == RepoRef("org/repo", "dev")
    with pytest.raises(InvalidRequest, match="is not the model hub"):
        parse_repo_ref("https://other.example.org/org/repo")
