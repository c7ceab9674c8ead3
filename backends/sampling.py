"""The one sampling parameter type used by the UI, the API, presets and every backend."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The most stop strings a request may carry.
MAX_STOP_STRINGS = 16
#: The longest stop string accepted, in characters.
MAX_STOP_LENGTH = 256
MAX_LOGIT_BIAS = 1024

#: Sampler stages in the order llama.cpp applies them by default.
DEFAULT_PRIORITY = ("penalties", "dry", "top_k", "typical_p", "top_p", "min_p", "xtc", "temperature")
#: text-generation-webui's stage names, mapped to ours (None: a stage Jielong does not have).
STAGE_ALIASES: dict[str, str | None] = {
    **{name: name for name in DEFAULT_PRIORITY},
    "repetition_penalty": "penalties",
    "presence_penalty": "penalties",
    "frequency_penalty": "penalties",
    "dynamic_temperature": "temperature",
    "mirostat": None,  # mirostat replaces the truncation stages when it is on
    "quadratic_sampling": None,
    "top_n_sigma": None,
    "epsilon_cutoff": None,
    "eta_cutoff": None,
    "tfs": None,
    "top_a": None,
    "encoder_repetition_penalty": None,
    "no_repeat_ngram": None,
}


class SamplingParams(BaseModel):
    """How the next token is chosen. Every field has a range and a description.

    Unknown keys and out-of-range values are validation errors naming the key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    temperature: float = Field(
        0.7, ge=0.0, le=5.0, description="Divides the logits before softmax. 0 means greedy (the most likely token)."
    )
    top_k: int = Field(40, ge=0, le=100_000, description="Keep only the k most likely tokens. 0 disables.")
    top_p: float = Field(
        0.95, ge=0.0, le=1.0, description="Keep the smallest set of tokens whose probabilities add up to p. 1 disables."
    )
    min_p: float = Field(
        0.05, ge=0.0, le=1.0, description="Drop tokens less likely than min_p times the top token. 0 disables."
    )
    typical_p: float = Field(
        1.0, ge=0.0, le=1.0, description="Locally typical sampling: keep tokens near the expected surprise. 1 disables."
    )
    repetition_penalty: float = Field(
        1.0, ge=0.1, le=5.0, description="Divides the logits of tokens already seen (>1 discourages them). 1 disables."
    )
    repetition_penalty_range: int = Field(
        1024, ge=0, le=1_048_576, description="How many recent tokens the penalties look at. 0 means the whole context."
    )
    presence_penalty: float = Field(
        0.0, ge=-2.0, le=2.0, description="Subtracted once from the logit of every token already seen."
    )
    frequency_penalty: float = Field(
        0.0, ge=-2.0, le=2.0, description="Subtracted from a token's logit for every time it was already seen."
    )
    mirostat_mode: Literal[0, 1, 2] = Field(
        0, description="Mirostat keeps the text's surprise near mirostat_tau (1: v1, 2: v2; 0 off). Replaces top-k/p."
    )
    mirostat_tau: float = Field(5.0, ge=0.0, le=20.0, description="Mirostat's target surprise (entropy).")
    mirostat_eta: float = Field(0.1, ge=0.0, le=1.0, description="Mirostat's learning rate.")
    dynatemp_low: float = Field(
        1.0, ge=0.0, le=5.0, description="Dynamic temperature: the lowest temperature (used when dynatemp_high > low)."
    )
    dynatemp_high: float = Field(
        1.0, ge=0.0, le=5.0, description="Dynamic temperature: the highest temperature, for high-entropy steps."
    )
    dynatemp_exponent: float = Field(
        1.0, ge=0.01, le=10.0, description="Dynamic temperature: how entropy maps onto the range."
    )
    dry_multiplier: float = Field(
        0.0, ge=0.0, le=5.0, description="DRY: penalise continuing a sequence that already occurred. 0 disables."
    )
    dry_base: float = Field(1.75, ge=1.0, le=4.0, description="DRY: growth of the penalty with the repeated length.")
    dry_allowed_length: int = Field(
        2, ge=1, le=50, description="DRY: repeats up to this many tokens long are not penalised."
    )
    dry_sequence_breakers: tuple[str, ...] = Field(
        ("\n", ":", '"', "*"), max_length=32, description="DRY: strings that end a sequence match."
    )
    xtc_threshold: float = Field(
        0.1, ge=0.0, le=0.5, description="XTC: tokens above this probability are candidates for exclusion."
    )
    xtc_probability: float = Field(
        0.0, ge=0.0, le=1.0, description="XTC: chance of removing all but the least likely candidate. 0 disables."
    )
    seed: int = Field(-1, ge=-1, le=2**32 - 2, description="Random seed; -1 picks a new one for every generation.")
    max_new_tokens: int = Field(512, ge=1, le=131_072, description="The most tokens to generate in one reply.")
    stop: tuple[str, ...] = Field(
        (), max_length=MAX_STOP_STRINGS, description="Generation ends before any of these strings (not shown)."
    )
    ban_eos_token: bool = Field(False, description="Never end by choice: the end-of-text token is forbidden.")
    logit_bias: dict[int, float] = Field(
        default_factory=dict, description="Token id -> bias added to its logit (-100 bans, +100 forces)."
    )
    sampler_priority: tuple[str, ...] = Field(
        DEFAULT_PRIORITY, description="The order of the sampler stages (text-generation-webui names accepted)."
    )
    grammar: str | None = Field(
        None, max_length=100_000, description="A GBNF grammar the output must follow (llama.cpp's format)."
    )
    json_schema: dict[str, Any] | None = Field(
        None, description="A JSON Schema the output must validate against (compiled to a grammar)."
    )

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not item:
                raise ValueError("stop strings must not be empty")
            if len(item) > MAX_STOP_LENGTH:
                raise ValueError(f"stop strings must be at most {MAX_STOP_LENGTH} characters")
        return value

    @field_validator("dry_sequence_breakers", mode="before")
    @classmethod
    def _parse_breakers(cls, value: Any) -> Any:
        if isinstance(value, str):  # text-generation-webui writes '"\\n", ":", "\\"", "*"'
            try:
                parsed = json.loads(f"[{value}]")
            except json.JSONDecodeError as exc:
                raise ValueError('must be a list of strings, or text like "\\n", ":"') from exc
            return parsed
        return value

    @field_validator("logit_bias")
    @classmethod
    def _check_bias(cls, value: dict[int, float]) -> dict[int, float]:
        if len(value) > MAX_LOGIT_BIAS:
            raise ValueError(f"at most {MAX_LOGIT_BIAS} entries")
        for token, bias in value.items():
            if token < 0:
                raise ValueError(f"token ids are not negative (got {token})")
            if not -100.0 <= bias <= 100.0:
                raise ValueError(f"biases lie in [-100, 100] (got {bias} for token {token})")
        return value

    @field_validator("sampler_priority", mode="before")
    @classmethod
    def _parse_priority(cls, value: Any) -> Any:
        if isinstance(value, str):  # text-generation-webui writes one stage per line
            value = [line.strip() for line in value.splitlines() if line.strip()]
        unknown = [name for name in value if name not in STAGE_ALIASES]
        if unknown:
            raise ValueError(f"unknown sampler stage(s) {unknown}; known: {sorted(STAGE_ALIASES)}")
        return value

    @model_validator(mode="after")
    def _one_constraint(self) -> SamplingParams:
        if self.grammar and self.json_schema:
            raise ValueError("set grammar or json_schema, not both")
        if self.dynatemp_high < self.dynatemp_low:
            raise ValueError("dynatemp_high must not be below dynatemp_low")
        return self

    @property
    def is_greedy(self) -> bool:
        """True when sampling always picks the most likely token (after penalties)."""
        return self.mirostat_mode == 0 and (self.temperature == 0.0 or self.top_k == 1)

    @property
    def uses_dynamic_temperature(self) -> bool:
        """Dynamic temperature is on when its range is not empty."""
        return self.dynatemp_high > self.dynatemp_low

    def stage_order(self) -> list[str]:
        """`sampler_priority` in Jielong's stage names, each once, every stage present."""
        order: list[str] = []
        for name in self.sampler_priority:
            stage = STAGE_ALIASES[name]
            if stage is not None and stage not in order:
                order.append(stage)
        return order + [stage for stage in DEFAULT_PRIORITY if stage not in order]


#: Parameters that reproduce the model's single most likely continuation.
GREEDY = SamplingParams(temperature=0.0, top_k=1, top_p=1.0, min_p=0.0)
#: Every field name.
ALL_FIELDS = frozenset(SamplingParams.model_fields)
