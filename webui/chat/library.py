"""Saved chats: create, edit, save atomically, list, rename, delete, import and export."""

from __future__ import annotations

import json
import time
from pathlib import Path

from backends.errors import InvalidRequest
from webui.chat.characters import Character
from webui.chat.conversation import DEFAULT_CHAT_NAME, Message, SavedChat
from webui.storage import JsonStore, Listing, clean_name, new_document_id

#: Imported chat files larger than this are refused before they are parsed.
MAX_IMPORT_BYTES = 20 * 1024 * 1024
_AUTO_NAME_LENGTH = 48


def new_chat(system_prompt: str = "", character: Character | None = None) -> SavedChat:
    """An empty chat: instruct mode with a system prompt, or chat mode with a character's greeting."""
    now = time.time()
    if character is None:
        return SavedChat(created=now, updated=now, system_prompt=system_prompt)
    messages = [Message(role="assistant", content=character.fill(character.greeting))] if character.greeting else []
    return SavedChat(
        created=now,
        updated=now,
        mode="chat",
        character=character.name,
        system_prompt=character.fill(character.context),
        messages=messages,
    )


def with_user_message(chat: SavedChat, text: str) -> SavedChat:
    """The chat with a new user message; a chat still called "New chat" is named after it."""
    if not text.strip():
        raise InvalidRequest("the message is empty")
    name = chat.name
    if name == DEFAULT_CHAT_NAME:
        name = clean_name(text)[:_AUTO_NAME_LENGTH]
    return chat.model_copy(update={"name": name, "messages": [*chat.messages, Message(role="user", content=text)]})


def with_reply(chat: SavedChat, reply: Message, replaces_last: bool = False) -> SavedChat:
    """The chat with the assistant's reply appended (or replacing a continued last reply)."""
    messages = chat.messages[:-1] if replaces_last else chat.messages
    return chat.model_copy(update={"messages": [*messages, reply]})


def without_last_reply(chat: SavedChat) -> SavedChat:
    """The chat ready to regenerate: its last reply (and tool steps) removed, so it ends with the user's message."""
    messages = list(chat.messages)
    while messages and messages[-1].role in ("assistant", "tool"):
        messages.pop()
    if not messages or messages[-1].role != "user":
        raise InvalidRequest("there is no message to reply to")
    return chat.model_copy(update={"messages": messages})


def without_last_turn(chat: SavedChat) -> SavedChat:
    """The chat without its last exchange (the last reply and the message it answered)."""
    messages = list(chat.messages)
    while messages and messages[-1].role in ("assistant", "tool"):
        messages.pop()
    if messages and messages[-1].role == "user":
        messages.pop()
    return chat.model_copy(update={"messages": messages})


def edited(chat: SavedChat, index: int, text: str) -> tuple[SavedChat, bool]:
    """Replace message `index`. Editing a user message drops what followed it and asks for a new reply.

    Returns the new chat and whether a reply should be generated.
    """
    if not 0 <= index < len(chat.messages):
        raise InvalidRequest(f"there is no message {index}")
    original = chat.messages[index]
    replacement = Message(role=original.role, content=text)
    if original.role == "user":
        return chat.model_copy(update={"messages": [*chat.messages[:index], replacement]}), True
    messages = list(chat.messages)
    messages[index] = replacement
    return chat.model_copy(update={"messages": messages}), False


def to_markdown(chat: SavedChat) -> str:
    """The chat as a readable Markdown document."""
    lines = [f"# {chat.name}", ""]
    if chat.system_prompt:
        lines += ["> " + line for line in chat.system_prompt.splitlines()] + [""]
    speaker = {"user": "You", "assistant": chat.character or "Assistant", "system": "System", "tool": "Tool"}
    for message in chat.messages:
        content = message.content
        for call in message.tool_calls or []:
            content += f"\n\n`{call.name}({call.arguments})`"
        label = f"Tool {message.name}" if message.role == "tool" else speaker[message.role]
        lines += [f"**{label}:**", "", content.strip(), ""]
    return "\n".join(lines)


class ChatLibrary:
    """The chats saved under one folder."""

    def __init__(self, folder: Path) -> None:
        self.store: JsonStore[SavedChat] = JsonStore(folder, SavedChat, lambda chat: chat.name)

    def save(self, chat_id: str, chat: SavedChat) -> SavedChat:
        """Save atomically, stamping the update time; return what was saved."""
        chat = chat.model_copy(update={"updated": time.time()})
        self.store.save(chat_id, chat)
        return chat

    def create(self, chat: SavedChat) -> str:
        """Save a new chat under a fresh id; return the id."""
        chat_id = new_document_id()
        self.save(chat_id, chat)
        return chat_id

    def load(self, chat_id: str) -> SavedChat:
        """Read one chat."""
        return self.store.load(chat_id)

    def rename(self, chat_id: str, name: str) -> SavedChat:
        """Give a chat a new display name (names never become file names)."""
        return self.save(chat_id, self.load(chat_id).model_copy(update={"name": clean_name(name)}))

    def delete(self, chat_id: str) -> None:
        """Delete a chat file."""
        self.store.delete(chat_id)

    def listing(self) -> list[Listing]:
        """All chats, newest first, with unreadable ones flagged."""
        return self.store.listing()

    def import_file(self, path: Path) -> str:
        """Import a chat exported as JSON under a new id (nothing is overwritten); return the id."""
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise InvalidRequest(
                f"{path.name} is {size / 1e6:.1f} MB; chat imports are limited to {MAX_IMPORT_BYTES // 2**20} MB"
            )
        data = path.read_bytes()
        try:
            parsed = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"{path.name} is not valid JSON ({exc})") from exc
        if isinstance(parsed, list):  # a bare list of {"role", "content"} messages
            data = json.dumps({"messages": parsed, "name": clean_name(path.stem)}).encode()
        chat = self.store.parse(data, source=path.name)
        return self.create(chat)
