"""`preference:` presets: what dpo, dpo_anchor and hdpo keep, and the settings each refuses."""

from __future__ import annotations

import pytest

from polyalign.errors import ConfigError
from polyalign.train.config import PreferenceConfig


def test_each_method_keeps_only_its_terms_with_the_papers_defaults() -> None:
    assert PreferenceConfig(method="dpo").coefficients() == {
        "lambda_sup": 0.0,
        "gamma": 0.0,
        "lambda_online": 0.0,
    }
    assert PreferenceConfig(method="dpo_anchor").coefficients() == {
        "lambda_sup": 0.0,
        "gamma": 0.05,
        "lambda_online": 0.0,
    }
    assert PreferenceConfig().coefficients() == {"lambda_sup": 0.1, "gamma": 0.05, "lambda_online": 0.05}
    assert PreferenceConfig(lambda_online=0.0, gamma=0.2).coefficients() == {
        "lambda_sup": 0.1,
        "gamma": 0.2,
        "lambda_online": 0.0,
    }


def test_only_hdpo_weights_its_pairs_and_dpo_starts_from_plain_sft() -> None:
    assert [PreferenceConfig(method=m).weighted for m in ("dpo", "dpo_anchor", "hdpo")] == [
        False,
        False,
        True,
    ]
    assert [PreferenceConfig(method=m).start_method for m in ("dpo", "dpo_anchor", "hdpo")] == [
        "sft",
        "bucket_sft",
        "bucket_sft",
    ]
    assert PreferenceConfig(method="dpo", start="bucket_sft").start_method == "bucket_sft"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "ppo"}, "preference.method must be one of"),
        ({"method": "dpo", "lambda_sup": 0.1}, "method dpo has no lambda_sup term"),
        ({"method": "dpo_anchor", "lambda_online": 0.05}, "method dpo_anchor has no lambda_online term"),
        ({"gamma": -1.0}, "preference.gamma must be >= 0"),
        ({"beta": 0.0}, "preference.beta must be > 0"),
        ({"reference": "none"}, "preference.reference must be one of"),
        ({"start": "dpo"}, "preference.start must be one of"),
        ({"args": {"beta": 0.2}}, "preference.args.beta is set by the stage"),
    ],
)
def test_settings_a_method_does_not_have_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PreferenceConfig(**settings)


def test_a_zero_coefficient_on_a_method_without_the_term_is_allowed() -> None:
    assert PreferenceConfig(method="dpo", gamma=0.0).coefficients()["gamma"] == 0.0
