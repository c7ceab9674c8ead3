"""SamplingParams validation and text-generation-webui presets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from backends.errors import InvalidRequest
from backends.sampling import DEFAULT_PRIORITY, SamplingParams
from tests.conftest import REPO
from webui.presets import PresetLibrary, RememberedPresets, check_preset_name

TGW_PRESET = """temperature: 0.82
top_p: 0.85
min_p: 0.05
top_k: 50
repetition_penalty: 1.1
repetition_penalty_range: 1024
typical_p: 1
tfs: 1
top_a: 0
epsilon_cutoff: 0
eta_cutoff: 0
guidance_scale: 1
penalty_alpha: 0
encoder_repetition_penalty: 1
no_repeat_ngram_size: 0
smoothing_factor: 0
smoothing_curve: 1
dry_multiplier: 0.8
dry_base: 1.75
dry_allowed_length: 2
dry_sequence_breakers: '"\\n", ":", "\\"", "*"'
xtc_threshold: 0.1
xtc_probability: 0
do_sample: true
dynamic_temperature: false
temperature_last: true
mirostat_mode: 0
mirostat_tau: 5
mirostat_eta: 0.1
sampler_priority: |-
  repetition_penalty
  presence_penalty
  frequency_penalty
  dry
  top_n_sigma
  temperature
  dynamic_temperature
  quadratic_sampling
  top_k
  top_p
  typical_p
  epsilon_cutoff
  eta_cutoff
  tfs
  top_a
  min_p
  mirostat
  xtc
  encoder_repetition_penalty
  no_repeat_ngram
"""


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 2}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"mirostat_mode": 3}, "mirostat_mode"),
        ({"temprature": 1.0}, "temprature"),
        ({"stop": [""]}, "stop"),
        ({"stop": ["x"] * 17}, "stop"),
        ({"logit_bias": {5: 500}}, "logit_bias"),
        ({"sampler_priority": ["top_k", "warp_drive"]}, "sampler_priority"),
        ({"temperature": "hot"}, "temperature"),
    ],
)
def test_invalid_values_name_the_key(values: dict, key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SamplingParams(**values)
    assert key in str(caught.value)


def test_every_field_has_a_description() -> None:
    for name, field in SamplingParams.model_fields.items():
        assert field.description, name


def test_grammar_and_schema_are_exclusive() -> None:
    with pytest.raises(ValidationError, match="not both"):
        SamplingParams(grammar='root ::= "a"', json_schema={"type": "string"})


def test_stage_order_maps_tgw_names_and_completes_the_list() -> None:
    order = SamplingParams(sampler_priority="min_p\ntemperature\nmirostat\n").stage_order()
    assert order[:2] == ["min_p", "temperature"]
    assert sorted(order) == sorted(DEFAULT_PRIORITY)


def test_shipped_presets_all_load() -> None:
    library = PresetLibrary(REPO / "presets")
    entries = library.scan()
    assert {e.name for e in entries} >= {"Deterministic", "Balanced (min_p)", "Creative", "Precise", "Code"}
    for entry in entries:
        assert entry.error is None, entry.error
        entry.preset.apply()
        assert (REPO / "presets" / f"{entry.name}.yaml").read_text().startswith("#"), "each preset says when to use it"
    assert library.load("Deterministic").apply().is_greedy


def test_tgw_preset_copied_verbatim_loads(tmp_path: Path) -> None:
    (tmp_path / "tgw.yaml").write_text(TGW_PRESET)
    (tmp_path / "Debug-deterministic.yaml").write_text("do_sample: false\ntop_k: 1\n")
    library = PresetLibrary(tmp_path)
    params = library.load("tgw").apply()
    assert params.dry_sequence_breakers == ("\n", ":", '"', "*")
    assert params.stage_order()[-1] == "xtc" and params.stage_order()[0] == "penalties"
    assert params.dry_multiplier == 0.8 and params.top_k == 50
    assert library.load("Debug-deterministic").apply().temperature == 0.0


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("temperature: [1, 2", ["bad.yaml", "not valid YAML"]),
        ("- a\n- b\n", ["bad.yaml", "mapping"]),
        ("temprature: 1\n", ["bad.yaml", "temprature"]),
        ("top_p: 7\n", ["bad.yaml", "top_p", "1"]),
        ("top_k: lots\n", ["bad.yaml", "top_k"]),
    ],
)
def test_bad_preset_files_name_file_key_and_range(tmp_path: Path, text: str, fragments: list[str]) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    (tmp_path / "good.yaml").write_text("temperature: 0.5\n")
    library = PresetLibrary(tmp_path)
    with pytest.raises(InvalidRequest) as caught:
        library.load("bad")
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert library.names() == ["good"]  # the others still load


def test_unsupported_tgw_samplers_are_reported_not_silently_dropped(tmp_path: Path) -> None:
    (tmp_path / "tfs.yaml").write_text("tfs: 0.9\ntop_a: 0.2\n")
    preset = PresetLibrary(tmp_path).load("tfs")
    assert any("tfs" in w for w in preset.warnings) and any("top_a" in w for w in preset.warnings)


@pytest.mark.parametrize("name", ["../x", "a/b", "a\\b", "nul\x00", "/etc/passwd", "", "x" * 80, ".hidden", "C:\\x"])
def test_hostile_preset_names_are_rejected(tmp_path: Path, name: str) -> None:
    library = PresetLibrary(tmp_path / "presets")
    (tmp_path / "presets").mkdir()
    with pytest.raises(InvalidRequest):
        check_preset_name(name)
    with pytest.raises(InvalidRequest):
        library.save(name, SamplingParams())
    with pytest.raises(InvalidRequest):
        library.load(name)
    assert sorted(os.listdir(tmp_path)) == ["presets"] and os.listdir(tmp_path / "presets") == []


def test_symlinked_preset_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("temperature: 0.1\n")
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "sneaky.yaml").symlink_to(outside)
    library = PresetLibrary(tmp_path / "presets")
    with pytest.raises(InvalidRequest, match="symbolic link"):
        library.load("sneaky")
    with pytest.raises(InvalidRequest, match="symbolic link"):
        library.save("sneaky", SamplingParams(temperature=0.9))
    assert outside.read_text() == "temperature: 0.1\n"


def test_save_overwrite_delete_and_remember(tmp_path: Path) -> None:
    library = PresetLibrary(tmp_path)
    library.save("Mine", SamplingParams(temperature=0.3, dry_multiplier=0.5))
    assert library.load("Mine").values == {"temperature": 0.3, "dry_multiplier": 0.5}
    library.save("Mine", SamplingParams(temperature=0.9))
    assert library.load("Mine").apply().temperature == 0.9
    library.delete("Mine")
    assert library.names() == []
    remembered = RememberedPresets(tmp_path / "user" / "model_presets.yaml")
    remembered.set("model.gguf", "Creative")
    assert remembered.get("model.gguf") == "Creative" and remembered.get("other") is None
