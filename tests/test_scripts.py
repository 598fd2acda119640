"""One definition of the script ranges (data/scripts.py), and every module that tells scripts apart agrees."""

from __future__ import annotations

from pathlib import Path

import polyalign
from polyalign.data.buckets import length_units
from polyalign.data.language import detect_language
from polyalign.evaluate.utility import tokenize

EXT_B = "\U00020bb7"  # 𠮷, a CJK extension-B ideograph (outside the Basic Multilingual Plane)


def test_an_extension_b_ideograph_is_han_everywhere() -> None:
    """Length units, language detection and utility tokens all count it as one Han character."""
    assert length_units(EXT_B * 3) == 3
    assert tokenize(EXT_B + "野家") == [EXT_B, "野", "家"]
    detection = detect_language(EXT_B * 12)
    assert (detection.language, detection.status) == ("zh", "ok")


def test_no_module_writes_its_own_script_range() -> None:
    package = Path(polyalign.__file__).parent
    scripts = package / "data" / "scripts.py"
    owners = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path != scripts
        and any(r in path.read_text(encoding="utf-8") for r in ("\\u4e00", "\\u3040", "\\uac00"))
    ]
    assert not owners, f"script ranges outside data/scripts.py: {owners}"
