"""How tool steps are shown in the Chatbot, and the approval round trip of the Chat tab's state."""

from __future__ import annotations

from webui.chat.conversation import Message, SavedChat, ToolCall
from webui.chat.library import to_markdown, without_last_reply
from webui.ui.chat_tab import ChatTab, ChatView, to_chatbot

CALL = ToolCall(id="abc123XYZ", name="delete_file", arguments='{"path": "notes.txt"}')
MESSAGES = [
    Message(role="user", content="Delete notes.txt"),
    Message(role="assistant", content="", tool_calls=[CALL]),
    Message(role="tool", content="deleted notes.txt", tool_call_id=CALL.id, name="delete_file"),
    Message(role="tool", content="Error: boom", tool_call_id="other", name="calculator", error=True),
    Message(role="assistant", content="Done."),
]


def test_steps_are_collapsible_messages_one_row_per_message() -> None:
    rows = to_chatbot(MESSAGES)
    assert len(rows) == len(MESSAGES)  # edits map chatbot rows to messages one to one
    assert rows[1]["metadata"] == {"title": "🛠️ Calling delete_file", "status": "done"}
    assert 'delete_file({"path": "notes.txt"})' in rows[1]["content"]
    assert rows[2]["metadata"]["title"] == "📎 Result of delete_file"
    assert rows[3]["metadata"]["title"] == "⚠️ Error from calculator"
    assert "metadata" not in rows[4]


def test_a_call_awaiting_approval_is_marked_pending() -> None:
    rows = to_chatbot(MESSAGES[:2], awaiting=CALL)
    assert rows[1]["metadata"] == {"title": "🛠️ Calling delete_file (waiting for your approval)", "status": "pending"}


def test_answering_the_approval_asks_for_a_tools_step() -> None:
    view = ChatView(SavedChat(messages=MESSAGES[:2]), "chat-id", awaiting=CALL)
    tab = ChatTab(app=None)  # answer_approval needs no app
    approved = tab.answer_approval(view, True)
    assert approved.pending == "tools" and approved.awaiting is None and approved.approvals == ((CALL.id, True),)
    assert tab.answer_approval(ChatView(SavedChat()), True).pending is None  # nothing was waiting


def test_old_chats_still_load_and_regenerate_drops_tool_steps() -> None:
    old = SavedChat.model_validate(
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    )
    assert old.messages[1].tool_calls is None and not old.messages[1].error
    chat = SavedChat(messages=MESSAGES)
    assert [m.role for m in without_last_reply(chat).messages] == ["user"]
    markdown = to_markdown(chat)
    assert '`delete_file({"path": "notes.txt"})`' in markdown and "**Tool delete_file:**" in markdown
