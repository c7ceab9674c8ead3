"""Build models folders for tests: real GGUF files (split with gguf's own writer) and tiny HF folders."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np


def link_or_copy(source: Path, target: Path) -> Path:
    """A hard link to `source` (no 98 MB copy) where the file system allows, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target


def write_tiny_gguf(path: Path, n_tensors: int = 3, split_max_tensors: int = 0) -> list[Path]:
    """A small real GGUF (llama architecture, F32 tensors), split into one part per tensor if asked."""
    from gguf import GGUFWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, "llama", split_max_tensors=split_max_tensors)
    writer.add_name(path.stem)
    writer.add_context_length(512)
    writer.add_file_type(0)
    for index in range(n_tensors):
        writer.add_tensor(f"blk.{index}.weight", np.full((4, 8), index, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return sorted(path.parent.glob(f"{path.stem}*.gguf"))


def write_tiny_hf_folder(folder: Path, chat_template: str | None = "{{ messages }}") -> Path:
    """A Hugging Face folder with a config.json and two safetensors shards (36 + 8 parameters)."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "max_position_embeddings": 2048}
    config["torch_dtype"] = "bfloat16"
    (folder / "config.json").write_text(json.dumps(config))
    save_file({"a": np.zeros((4, 9), dtype=np.float32)}, str(folder / "model-00001-of-00002.safetensors"))
    save_file({"b": np.zeros((8,), dtype=np.float32)}, str(folder / "model-00002-of-00002.safetensors"))
    if chat_template is not None:
        (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": chat_template}))
    return folder


def write_random_llama_folder(folder: Path, gguf_path: Path) -> Path:
    """A real Hugging Face folder: the bundled model's tokenizer and a small random-weight llama (~14M params, 55 MB).

    The replies are gibberish, but it loads and generates through transformers like any downloaded model.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
