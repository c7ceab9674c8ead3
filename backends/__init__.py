"""Inference backends: each turns token ids into more token ids, and nothing else.

`base` defines the protocol; `llama_cpp` and (later) `transformers` and `remote`
implement it; `loader` picks one for a model path.
"""
