"""File-level scoring: read responses to score (or to train the critic on), with errors naming file and line.

Input rows are JSON objects with a `response` (or a project-schema record, whose last message is the
response) and a `bucket`; model responses for the critic carry the `id` of the train record they answer.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from polyalign.artifacts import read_jsonl, write_jsonl
from polyalign.data.buckets import BucketKey
from polyalign.data.prepare import load_prepared
from polyalign.errors import InputError, PolyAlignError
from polyalign.reference.critic import Example, HumanModelCritic, train_critic
from polyalign.reference.reference import HumanReference
from polyalign.reference.support import SupportScorer


def read_scoring_input(path: Path, *, need_bucket: bool = True) -> list[dict[str, Any]]:
    """Rows {id, bucket, response}; a bad line is an InputError naming file, line and the fix.

    A row without an `id` is named `<file name>:<row number>` (rows counted from 1, blank lines skipped).
    """
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    rows = list(read_jsonl(path, partial(_scoring_row, need_bucket=need_bucket)))
    for number, row in enumerate(rows, start=1):
        row["id"] = row["id"] if row["id"] is not None else f"{path.name}:{number}"
    return rows


def _scoring_row(obj: dict[str, Any], *, need_bucket: bool) -> dict[str, Any]:
    """One input row; a ValueError here becomes read_jsonl's InputError with file and line."""
    response = obj.get("response")
    if response is None and isinstance(obj.get("messages"), list) and obj["messages"]:
        response = obj["messages"][-1].get("content")
    if not isinstance(response, str):
        raise ValueError("no 'response' text (or 'messages' ending in the response)")
    bucket = obj.get("bucket")
    if need_bucket and not isinstance(bucket, str):
        raise ValueError(
            "no 'bucket' (language|track|family|length_bin); "
            "score prepared records, or add the bucket of the prompt each response answers"
        )
    if isinstance(bucket, str):
        try:
            BucketKey.parse(bucket)
        except PolyAlignError as error:
            raise ValueError(str(error)) from None
    return {"id": None if obj.get("id") is None else str(obj["id"]), "bucket": bucket, "response": response}


def score_file_rows(
    reference_folder: Path, rows: list[dict[str, Any]], out: Path | None
) -> list[dict[str, Any]]:
    """d(y, b) per row; written as JSONL to `out` when given."""
    scorer = SupportScorer(HumanReference.load(reference_folder))
    buckets = [row["bucket"] for row in rows]
    distances = scorer.score([row["response"] for row in rows], buckets)
    scored = [
        {
            "id": row["id"],
            "bucket": row["bucket"],
            "reference": scorer.reference.resolve(row["bucket"]),
            "d": float(d),
        }
        for row, d in zip(rows, distances, strict=True)
    ]
    if out is not None:
        write_jsonl(out, scored)
    return scored


def train_critic_from_files(reference_folder: Path, responses: Path, *, seed: int = 0) -> HumanModelCritic:
    """Human = the train records the model responses answer; model = those responses; same buckets."""
    reference = HumanReference.load(reference_folder)
    prepared = load_prepared(Path(reference.source["prepare_folder"]))
    train = {r.id: r for r in prepared.content.splits["train"]}
    rows = read_scoring_input(responses, need_bucket=False)
    unknown = [row["id"] for row in rows if row["id"] not in train]
    if unknown:
        raise InputError(
            f"{len(unknown)} response id(s) in {responses} are not train records of {prepared.folder} "
            f"(first: {unknown[:3]}): the critic trains on train prompts only"
        )
    answered = dict.fromkeys(row["id"] for row in rows)  # file order (a set's would vary between runs)
    human = [Example(train[i].id, train[i].response, str(train[i].bucket)) for i in answered]
    model = [Example(row["id"], row["response"], str(train[row["id"]].bucket)) for row in rows]
    return train_critic(reference, human, model, seed=seed)
