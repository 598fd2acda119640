"""Builds a corrupted copy of a JSONL corpus: every valid line kept, bad lines added with known reasons."""

from __future__ import annotations

import json
import random
from pathlib import Path

TEN_MB = 10 * 1024 * 1024


def corrupt_copy(sources: list[Path], out: Path, seed: int = 0) -> dict[str, int]:
    """Write one corrupted file per source; returns how many bad lines of each expected reason were added."""
    rng = random.Random(seed)
    planted = {
        "unparsable_json": 0,
        "empty_response": 0,
        "wrong_role_order": 0,
        "binary_data": 0,
        "over_long": 0,
    }
    out.mkdir(parents=True, exist_ok=True)
    for path in sources:
        lines = path.read_bytes().splitlines()
        result: list[bytes] = []
        for n, line in enumerate(lines):
            result.append(line)
            if n % 97 != 0:
                continue
            record = json.loads(line)
            messages = record["messages"]
            kind = list(planted)[(n // 97) % len(planted)]
            if kind == "unparsable_json":
                bad = line[: rng.randint(10, len(line) - 5)]
            elif kind == "empty_response":
                bad = _variant(record, "empty", [*messages[:-1], {"role": "assistant", "content": " \n "}])
            elif kind == "wrong_role_order":
                bad = _variant(record, "asst-first", messages[1:] if len(messages) > 2 else messages[::-1])
            elif kind == "binary_data":
                bad = bytes(rng.randrange(256) for _ in range(200)) + b"\x00\x01"
            else:
                big = "word " * (TEN_MB // 5)
                bad = _variant(record, "huge", [*messages[:-1], {"role": "assistant", "content": big}])
            result.append(bad.replace(b"\n", b" "))
            planted[kind] += 1
        (out / path.name).write_bytes(b"\n".join(result) + b"\n")
    return planted


def _variant(record: dict, tag: str, messages: list[dict]) -> bytes:
    copy = dict(record, id=f"{record['id']}#{tag}", messages=messages)
    return json.dumps(copy, ensure_ascii=False).encode("utf-8")
