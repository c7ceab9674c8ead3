"""English UI text. Every key here must also be in `zh_cn.py` (a test checks)."""

from backends.sampling import SamplingParams

STRINGS: dict[str, str] = {
    # tabs
    "tab.chat": "Chat",
    "tab.notebook": "Notebook",
    "tab.parameters": "Parameters",
    "tab.models": "Models",
    "tab.extensions": "Extensions",
    "tab.learn": "Learn",
    # chat tab
    "chat.new": "+ New chat",
    "chat.mode": "Mode",
    "chat.mode.info": "Instruct: the model's own template. Character: a persona from characters/.",
    "chat.character": "Character",
    "chat.system_prompt": "System prompt / character context",
    "chat.tools": "Tools",
    "chat.tools_label": "Tools the model may call",
    "chat.tools_info": "⚠️ marks tools that change things: they ask before they run.",
    "chat.saved": "Saved chats",
    "chat.manage": "This chat: rename, delete, export, import",
    "chat.name": "Name",
    "chat.rename": "Rename",
    "chat.delete": "Delete",
    "chat.export_json": "Export JSON",
    "chat.export_md": "Export Markdown",
    "chat.export": "Export",
    "chat.import": "Import JSON",
    "chat.placeholder": "Say something to the model.",
    "chat.input": "Message (Enter sends, Shift+Enter for a new line, Esc stops)",
    "chat.send": "Send",
    "chat.stop": "Stop",
    "chat.regenerate": "Regenerate",
    "chat.continue": "Continue",
    "chat.remove_last": "Remove last",
    # notebook tab
    "notebook.new": "+ New notebook",
    "notebook.saved": "Saved notebooks",
    "notebook.name": "Name",
    "notebook.save": "Save",
    "notebook.placeholder": "Write the beginning of a text; the model continues it (no chat template).",
    "notebook.generate": "Generate",
    "notebook.stop": "Stop",
    # parameters tab
    "params.preset": "Preset",
    "params.save_as": "Save as",
    "params.save_as.placeholder": "preset name",
    "params.save": "Save preset",
    "params.delete": "Delete preset",
    "params.group.Basics": "Basics",
    "params.group.Repetition": "Repetition",
    "params.group.Advanced": "Advanced",
    "params.group.Constrained output": "Constrained output",
    # learn tab
    "learn.intro": (
        "### Inside the model\n"
        "A language model plays a **word-chain game** (接龙): from the input and what it has written so far, "
        "a function gives the probability of every possible next **token**; one is picked, appended, and the "
        "game goes on. These views show each step on the model you are running."
    ),
    "learn.tokens.tab": "Tokens",
    "learn.tokens.explain": (
        "The model never sees letters or characters, only **token ids**: numbers for pieces of text from its "
        "vocabulary. Common English words are often one token; a Chinese character may take one token or be "
        "split into several byte pieces (shown as `\\xNN`). Hover a token for its bytes. "
        "Spaces are shown as `·`, line breaks as `↵`."
    ),
    "learn.tokens.text": "Text",
    "learn.tokens.compare": "Compare with the tokenizer of",
    "learn.tokens.split": "Split into tokens",
    "learn.tokens.loaded": "The loaded model",
    "learn.next.tab": "Next token",
    "learn.next.explain": (
        "The bars are the **20 most likely next tokens**: first the model's raw probabilities, then what is left "
        "after each sampler stage of the current preset, in `sampler_priority` order, renormalized so the survivors "
        "add up to 100%. Temperature reshapes the distribution; top-k, top-p and min-p cut its tail. "
        "Click a token to continue with it, or let the preset choose."
    ),
    "learn.next.prompt": "Prompt",
    "learn.next.chat_format": "Wrap it as a chat message (system prompt + chat template)",
    "learn.next.start": "Show the next token",
    "learn.next.from_reply": "Start inside the last chat reply",
    "learn.next.reply_position": "...after this many tokens of the reply",
    "learn.next.so_far": "Text so far (chosen tokens highlighted)",
    "learn.next.pick": "Pick the next token (click one)",
    "learn.next.step": "Step: let the preset choose",
    "learn.next.back": "Back one token",
    "learn.confidence.tab": "Confidence",
    "learn.confidence.explain": (
        "Each token of a text coloured by the probability the model gave it at that point: green it expected, "
        "red it found surprising. Hover a token to see what else it considered. **Perplexity** is "
        "exp(average surprise): 1 means the model was certain of every token."
    ),
    "learn.confidence.context": "Context (the prompt the text follows; may be empty)",
    "learn.confidence.text": "Text to colour",
    "learn.confidence.last_reply": "Use the last chat reply",
    "learn.confidence.run": "Colour by probability",
    "learn.embeddings.tab": "Embeddings",
    "learn.embeddings.explain": (
        "An embedding model turns a sentence into a vector (here all-MiniLM-L6-v2: 384 numbers). "
        "Sentences with **similar meaning get nearby vectors**: compare the cosine similarities (1 = same "
        "direction) and the 2-D projection (PCA) below. This model was trained on English text."
    ),
    "learn.embeddings.sentences": "Sentences, one per line",
    "learn.embeddings.run": "Embed",
    "learn.attention.tab": "Attention",
    "learn.attention.explain": (
        "Attention is how a transformer mixes information between tokens: row *i* shows how much token *i* looks "
        "at each earlier token (each row adds up to 1) in one head of one layer. Different heads learn different "
        "habits: some look at the previous token, some at the first one. Needs the transformers backend."
    ),
    "learn.attention.prompt": "A short prompt",
    "learn.attention.layer": "Layer",
    "learn.attention.head": "Head",
    "learn.attention.run": "Show attention",
    # text made on the server (charts, messages)
    "learn.msg.tokens_possible": "{count} tokens possible",
    "learn.msg.summary": "<b>{tokens}</b> tokens · {characters} characters · {bytes} bytes · {ratio} characters/token",
    "learn.msg.confidence": "{count} tokens · perplexity {perplexity:.2f}",
    "learn.msg.no_attention": (
        "The {backend} backend cannot show attention weights. Load the model with `--loader transformers` "
        "(a Hugging Face folder, or this GGUF file dequantized) to see them."
    ),
    "learn.msg.not_supported": "The {backend} backend cannot show this: {reason}",
    "learn.msg.no_reply": "There is no saved chat with a reply yet.",
    "learn.msg.step": "Step {step}: {count} tokens chosen so far.",
    "learn.msg.layer_head": "Layer {layer}, head {head}",
    # models tab: download section
    "download.title": "Download from the Hugging Face hub",
    "download.repo": "Repository (org/repo, org/repo:branch or a hub URL)",
    "download.token": "Token for gated or private repos (optional)",
    "download.token.placeholder": "hf_… (not needed for public repos)",
    "download.token.env": "HF_TOKEN is set and used unless you type another token",
    "download.list": "List files",
    "download.choice": "What to download",
    "download.start": "⬇️ Download",
    "download.job": "Running download",
    "download.cancel": "Cancel",
}

#: The Parameters tab's help texts: each field's own description.
STRINGS.update({f"param.{name}": field.description or name for name, field in SamplingParams.model_fields.items()})
