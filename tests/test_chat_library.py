"""Saved chats: atomic saves, corrupt files, hostile names, imports, edits; characters."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from backends.errors import InvalidRequest
from tests.conftest import REPO
from webui.chat import library
from webui.chat.characters import CharacterLibrary
from webui.chat.conversation import Message, SavedChat
from webui.chat.library import ChatLibrary
from webui.storage import atomic_write_text, check_document_id, clean_name


def chat_with(*contents: str) -> SavedChat:
    roles = ["user", "assistant"]
    return SavedChat(messages=[Message(role=roles[i % 2], content=c) for i, c in enumerate(contents)])


def test_save_list_rename_delete(tmp_path: Path) -> None:
    chats = ChatLibrary(tmp_path)
    first = chats.create(chat_with("hello", "hi"))
    time.sleep(0.01)
    second = chats.create(chat_with("later"))
    assert [e.doc_id for e in chats.listing()] == [second, first]  # newest first
    chats.rename(first, "  My   chat\x00 ")
    assert chats.load(first).name == "My chat"
    assert chats.listing()[0].doc_id == first  # renaming counts as an update
    chats.delete(first)
    assert [e.doc_id for e in chats.listing()] == [second]


def test_corrupt_and_empty_files_are_listed_as_unreadable_and_skipped(tmp_path: Path) -> None:
    chats = ChatLibrary(tmp_path)
    good = chats.create(chat_with("fine"))
    (tmp_path / "0000000000000000aaaa.json").write_text("")
    (tmp_path / "0000000000000000bbbb.json").write_text('{"messages": [{"role": "user", "con')
    entries = {e.doc_id: e for e in chats.listing()}
    assert entries[good].error is None
    assert "empty" in entries["0000000000000000aaaa"].error
    assert "not a valid document" in entries["0000000000000000bbbb"].error


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b", "a\\b", "nul\x00byte", "x" * 300, "C:\\x", ""])
def test_hostile_names_never_become_paths(tmp_path: Path, name: str) -> None:
    chats = ChatLibrary(tmp_path / "chats")
    chat_id = chats.create(chat_with("hi"))
    with contextlib.suppress(InvalidRequest):
        chats.rename(chat_id, name)
    assert sorted(p.name for p in (tmp_path / "chats").iterdir()) == [f"{chat_id}.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chats"]
    for bad_id in ["../x", "/etc/passwd", name]:
        with pytest.raises(InvalidRequest):
            check_document_id(bad_id)


def test_clean_name_rules() -> None:
    assert clean_name(" a\tb\n c ") == "a b c"
    with pytest.raises(InvalidRequest, match="longer"):
        clean_name("y" * 300)
    with pytest.raises(InvalidRequest, match="empty"):
        clean_name("\x00\x01")


def test_crash_between_write_and_rename_keeps_the_previous_chat(tmp_path: Path, monkeypatch) -> None:
    chats = ChatLibrary(tmp_path)
    chat_id = chats.create(chat_with("the original"))

    def crash(*args: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        chats.save(chat_id, chat_with("the new version"))
    monkeypatch.undo()
    assert chats.load(chat_id).messages[0].content == "the original"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{chat_id}.json"]  # no temp file left


SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from webui.chat.conversation import Message, SavedChat
    from webui.chat.library import ChatLibrary
    chats, chat_id = ChatLibrary(Path(sys.argv[1])), sys.argv[2]
    version = 0
    print("ready", flush=True)
    while True:
        version += 1
        text = f"version {version} " + "x" * 200_000
        chats.save(chat_id, SavedChat(messages=[Message(role="user", content=text)]))
    """
)


def test_killing_the_saving_process_never_truncates_the_chat(tmp_path: Path) -> None:
    chats = ChatLibrary(tmp_path)
    chat_id = chats.create(chat_with("version 0"))
    rng = random.Random(7)
    versions = set()
    for _ in range(8):
        saver = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(tmp_path), chat_id], cwd=REPO, stdout=subprocess.PIPE
        )
        assert saver.stdout is not None and saver.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.05, 0.4))
        saver.send_signal(signal.SIGKILL)
        saver.wait()
        chat = chats.load(chat_id)  # parses: never truncated or empty
        versions.add(chat.messages[0].content.split(" ")[1])
        assert [e.error for e in chats.listing()] == [None]
    assert len(versions) > 1, "the saver should have written several versions"


def test_import_validates_and_never_overwrites(tmp_path: Path) -> None:
    chats = ChatLibrary(tmp_path / "chats")
    existing = chats.create(chat_with("keep me"))
    exported = tmp_path / "export.json"
    exported.write_text(chats.load(existing).model_dump_json())
    imported = chats.import_file(exported)
    assert imported != existing
    assert chats.load(existing).messages[0].content == "keep me"
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]))
    assert len(chats.load(chats.import_file(bare)).messages) == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('{"messages": [{"role": "wizard", "content": "x"}]}', "role"),
        ('{"messages": [{"role": "user"}]}', "content"),
        ('{"messages": [], "surprise": 1}', "surprise"),
        ("", "not valid JSON"),
    ],
)
def test_bad_imports_are_refused_clearly(tmp_path: Path, content: str, reason: str) -> None:
    chats = ChatLibrary(tmp_path / "chats")
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidRequest, match=reason):
        chats.import_file(path)
    assert chats.listing() == []


def test_oversized_import_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(library.MAX_IMPORT_BYTES + 1)
    with pytest.raises(InvalidRequest, match="limited to 20 MB"):
        ChatLibrary(tmp_path / "chats").import_file(path)


def test_regenerate_remove_edit_continue_operations() -> None:
    chat = chat_with("q1", "a1", "q2", "a2")
    assert [m.content for m in library.without_last_reply(chat).messages] == ["q1", "a1", "q2"]
    assert [m.content for m in library.without_last_turn(chat).messages] == ["q1", "a1"]
    edited, regenerate = library.edited(chat, 0, "new q1")
    assert regenerate and [m.content for m in edited.messages] == ["new q1"]
    edited, regenerate = library.edited(chat, 1, "better a1")
    assert not regenerate and [m.content for m in edited.messages] == ["q1", "better a1", "q2", "a2"]
    with pytest.raises(InvalidRequest):
        library.edited(chat, 9, "x")
    named = library.with_user_message(SavedChat(), "What is a token, exactly?")
    assert named.name == "What is a token, exactly?"
    with pytest.raises(InvalidRequest):
        library.with_user_message(SavedChat(), "   ")


def test_markdown_export() -> None:
    text = library.to_markdown(chat_with("hi", "hello").model_copy(update={"name": "Greeting"}))
    assert text.startswith("# Greeting") and "**You:**" in text and "**Assistant:**" in text


def test_atomic_write_replaces_content(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"


def test_characters_load_and_bad_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "Tutor.yaml").write_text("name: Tutor\ngreeting: Hello {{user}}!\ncontext: '{{char}} teaches.'\n")
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "link.yaml").symlink_to("/etc/hostname")
    characters = CharacterLibrary(tmp_path)
    assert "Tutor" in characters.names() and "Jielong" in characters.names()
    errors = {e.path.name: e.error for e in characters.scan() if e.error}
    assert set(errors) == {"broken.yaml", "list.yaml", "link.yaml"}
    chat = library.new_chat(character=characters.get("Tutor"))
    assert chat.mode == "chat" and chat.system_prompt == "Tutor teaches."
    assert chat.messages[0].content == "Hello You!"
    with pytest.raises(InvalidRequest):
        characters.get("../../etc/passwd")
