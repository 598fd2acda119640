from __future__ import annotations

import pytest

from polyalign.data.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Could you tell me how long the drive to London takes?", "en"),
        ("请问从这里开车到北京需要多长时间？大概两个小时吧。", "zh"),
        ("我们用Python处理数据，效率很高。", "zh"),  # a few Latin words inside Chinese stay Chinese
        ("Pourriez-vous me dire combien de temps dure le trajet?", "fr"),
    ],
)
def test_detects_language(text: str, language: str) -> None:
    detection = detect_language(text)
    assert (detection.language, detection.status) == (language, "ok")


def test_mixed_and_unknown_are_reported_not_guessed() -> None:
    mixed = detect_language("The meeting is at noon 我们中午在会议室见面 please bring the slides")
    assert (mixed.language, mixed.status) == (None, "mixed")
    for text in ("😀😀😀", "12345 678", "...", ""):
        detection = detect_language(text)
        assert (detection.language, detection.status) == (None, "unknown")
