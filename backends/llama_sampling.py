"""Build llama.cpp's sampler chain from `SamplingParams`, through the low-level bindings.

llama-cpp-python's high-level API has no DRY, XTC or stage ordering; llama.cpp's own
sampler chain has them all, so the chain is assembled here stage by stage, in
`sampler_priority` order.
"""

from __future__ import annotations

import ctypes
import json
import random
from collections.abc import Iterable, Sequence

import llama_cpp

from backends.errors import InvalidRequest
from backends.sampling import SamplingParams

#: llama.cpp's "pick a random seed" value.
RANDOM_SEED = 0xFFFFFFFF


def grammar_for(params: SamplingParams) -> str | None:
    """The GBNF grammar that `params` asks for (its own, or one compiled from its JSON schema)."""
    if params.grammar:
        return params.grammar
    if params.json_schema is not None:
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        try:
            return json_schema_to_gbnf(json.dumps(params.json_schema))
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise InvalidRequest(f"json_schema: cannot be turned into a grammar ({exc})") from exc
    return None


class SamplerChain:
    """A llama.cpp sampler chain; `sample` picks (and accepts) the next token."""

    def __init__(self) -> None:
        self._chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        self._keepalive: list[object] = []  # ctypes buffers the samplers point into

    def add(self, sampler: object, what: str) -> None:
        """Append a sampler; raise `InvalidRequest` if llama.cpp refused to create it."""
        if not sampler:
            raise InvalidRequest(f"{what}: llama.cpp rejected it")
        llama_cpp.llama_sampler_chain_add(self._chain, sampler)

    def sample(self, ctx: object) -> int:
        """Choose the next token from the last evaluated position, and accept it."""
        return llama_cpp.llama_sampler_sample(self._chain, ctx, -1)

    def close(self) -> None:
        """Free the chain (and every sampler in it)."""
        if self._chain is not None:
            llama_cpp.llama_sampler_free(self._chain)
            self._chain = None

    def __del__(self) -> None:
        self.close()


def build_chain(
    vocab: object,
    n_vocab: int,
    n_ctx: int,
    params: SamplingParams,
    history: Sequence[int],
    eog_ids: Iterable[int],
) -> SamplerChain:
    """The chain for `params`. `history` (the prompt) primes the repetition samplers."""
    chain = SamplerChain()
    try:
        _add_stages(chain, vocab, n_vocab, n_ctx, params, history, eog_ids)
    except BaseException:
        chain.close()
        raise
    return chain


def _add_stages(
    chain: SamplerChain,
    vocab: object,
    n_vocab: int,
    n_ctx: int,
    params: SamplingParams,
    history: Sequence[int],
    eog_ids: Iterable[int],
) -> None:
    seed = params.seed if params.seed >= 0 else random.randrange(RANDOM_SEED)
    grammar = grammar_for(params)
    if grammar is not None:
        chain.add(llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root"), "grammar")

    bias = {token: value for token, value in params.logit_bias.items() if token < n_vocab}
    if params.ban_eos_token:
        bias.update({token: float("-inf") for token in eog_ids})
    if bias:
        array = (llama_cpp.llama_logit_bias * len(bias))()
        for slot, (token, value) in zip(array, bias.items(), strict=True):
            slot.token, slot.bias = token, value
        chain._keepalive.append(array)
        chain.add(llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(bias), array), "logit_bias")

    window = params.repetition_penalty_range or n_ctx
    recent = list(history[-window:])
    for stage in params.stage_order():
        if stage == "penalties":
            if (params.repetition_penalty, params.presence_penalty, params.frequency_penalty) != (1.0, 0.0, 0.0):
                sampler = llama_cpp.llama_sampler_init_penalties(
                    n_vocab, window, params.repetition_penalty, params.frequency_penalty, params.presence_penalty
                )
                _prime(sampler, recent)
                chain.add(sampler, "repetition penalties")
        elif stage == "dry":
            if params.dry_multiplier > 0:
                breakers = [b.encode("utf-8") for b in params.dry_sequence_breakers]
                array = (ctypes.c_char_p * len(breakers))(*breakers)
                chain._keepalive.append(array)
                sampler = llama_cpp.llama_sampler_init_dry(
                    vocab,
                    params.dry_multiplier,
                    params.dry_base,
                    params.dry_allowed_length,
                    window,
                    array,
                    len(breakers),
                )
                _prime(sampler, recent)
                chain.add(sampler, "DRY")
        elif params.is_greedy or params.mirostat_mode:
            continue  # truncation and temperature do not change the argmax; mirostat has its own
        elif stage == "top_k" and params.top_k > 0:
            chain.add(llama_cpp.llama_sampler_init_top_k(params.top_k), "top_k")
        elif stage == "typical_p" and params.typical_p < 1.0:
            chain.add(llama_cpp.llama_sampler_init_typical(params.typical_p, 1), "typical_p")
        elif stage == "top_p" and params.top_p < 1.0:
            chain.add(llama_cpp.llama_sampler_init_top_p(params.top_p, 1), "top_p")
        elif stage == "min_p" and params.min_p > 0.0:
            chain.add(llama_cpp.llama_sampler_init_min_p(params.min_p, 1), "min_p")
        elif stage == "xtc" and params.xtc_probability > 0.0:
            chain.add(llama_cpp.llama_sampler_init_xtc(params.xtc_probability, params.xtc_threshold, 1, seed), "XTC")
        elif stage == "temperature":
            if params.uses_dynamic_temperature:
                middle = (params.dynatemp_low + params.dynatemp_high) / 2
                delta = (params.dynatemp_high - params.dynatemp_low) / 2
                sampler = llama_cpp.llama_sampler_init_temp_ext(middle, delta, params.dynatemp_exponent)
                chain.add(sampler, "dynamic temperature")
            else:
                chain.add(llama_cpp.llama_sampler_init_temp(params.temperature), "temperature")

    if params.is_greedy:
        chain.add(llama_cpp.llama_sampler_init_greedy(), "greedy")
    elif params.mirostat_mode == 1:
        chain.add(llama_cpp.llama_sampler_init_temp(params.temperature), "temperature")
        sampler = llama_cpp.llama_sampler_init_mirostat(n_vocab, seed, params.mirostat_tau, params.mirostat_eta, 100)
        chain.add(sampler, "mirostat")
    elif params.mirostat_mode == 2:
        chain.add(llama_cpp.llama_sampler_init_temp(params.temperature), "temperature")
        chain.add(llama_cpp.llama_sampler_init_mirostat_v2(seed, params.mirostat_tau, params.mirostat_eta), "mirostat")
    else:
        chain.add(llama_cpp.llama_sampler_init_dist(seed), "dist")


def _prime(sampler: object, tokens: Iterable[int]) -> None:
    """Let a repetition sampler see the prompt, as if it had generated it."""
    if sampler:
        for token in tokens:
            llama_cpp.llama_sampler_accept(sampler, token)
