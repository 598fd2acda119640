"""Row shapes: pure functions that cut one native unit (a row, or an OASST2 tree) into drafts and drops.

One adapter per native *layout*, shared by every corpus that uses it (SQuAD-style passage QA serves SQuAD
v2, CMRC 2018 and DuReader-robust). An adapter reads columns only through the recipe's field roles, so a
recipe documents exactly what it reads. Conventions of the development corpus (its README): a passage comes
first in the first user message, then a blank line, then the question; an instruction comes first, then a
blank line, then its input; consecutive turns of one speaker are joined with a newline; a dialogue record is
(history, target turn) and its history never holds a later turn. Reads and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from polyalign.data.records import Message, RecordError

REMOVED_ANSWERS = frozenset({"", "[deleted]", "[removed]"})  # Reddit placeholders, not answers
MS_MARCO_NO_ANSWER = "No Answer Present."
COQA_NO_ANSWER = "unknown"
WOZ_SPEAKERS = ("USER", "SYSTEM")  # MultiWOZ 2.2's `speaker` class label: 0 USER, 1 SYSTEM


@dataclass(frozen=True, slots=True)
class Draft:
    """One (context, human reference) pair cut from a native unit, before the recipe labels it."""

    key: str  # native id of the item: the row id, or the row id and the target turn
    messages: tuple[Message, ...]
    group: str  # dialogue, passage or question key within its split: records sharing it stay together
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Drop:
    """An item the recipe does not turn into a record; `code` must be one of the recipe's `drops`."""

    key: str
    code: str
    detail: str


Outcome = Draft | Drop


@dataclass(frozen=True)
class RecipeFields:
    """The part of a recipe an adapter reads, so adapters depend on data, not on the recipe type."""

    fields: Mapping[str, str]  # role (prompt, context, history, response, id, ...) -> native field
    drops: Mapping[str, str]  # drop code -> why; an adapter applies a rule only when the recipe declares it
    keep: tuple[str, ...]  # native fields copied into `meta`
    language: str
    responder: str  # multi-turn only: whose turns are the targets


Adapter = Callable[[Any, str, RecipeFields], list[Outcome]]


@dataclass(frozen=True)
class Shape:
    adapt: Adapter
    summary: str
    unit_role: str | None = None  # rows sharing the field of this role form one unit (None: one row)


# -- field access ------------------------------------------------------------------------------------------


def pick(row: Mapping[str, Any], path: str) -> Any:
    """A native field; `a.b` reads `b` inside `a`, whether `a` is a struct of lists or a list of structs.

    `datasets` stores a sequence of structs (SQuAD's `answers`, MS MARCO's `passages`) as a struct of
    lists, while JSON files and nested parquet give a list of structs; both read the same here.
    """
    head, _, rest = path.partition(".")
    if head not in row:
        raise RecordError(
            "schema", f"the row has no field {head!r} (the recipe reads {path!r}); it has {sorted(row)}"
        )
    value = row[head]
    if not rest:
        return value
    if isinstance(value, Mapping):
        return pick(value, rest)
    if isinstance(value, list):
        return [pick(item, rest) for item in value]
    raise RecordError(
        "schema", f"field {head!r} is a {type(value).__name__}, not a struct (reading {path!r})"
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [_text(v) for v in value]


def _native_id(row: Mapping[str, Any], key: str, recipe: RecipeFields) -> str:
    """The row's own id when the recipe names an id field (and it is not empty), else its row number."""
    role = recipe.fields.get("id")
    return (_text(pick(row, role)) or key) if role else key


def _kept(row: Mapping[str, Any], recipe: RecipeFields) -> dict[str, Any]:
    return {name: row[name] for name in recipe.keep if name in row}


def _blocks(*parts: str) -> str:
    """Blocks separated by one blank line: passage then question, or instruction then its input."""
    return "\n\n".join(part for part in parts if part.strip())


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _single(key: str, prompt: str, response: str, group: str, meta: dict[str, Any]) -> Draft:
    return Draft(key, (Message("user", prompt), Message("assistant", response)), group, meta)


# -- single-turn shapes ----------------------------------------------------------------------------------


def prompt_response(row: Mapping[str, Any], key: str, recipe: RecipeFields) -> list[Outcome]:
    """Instruction (+ optional input) → response; provenance rules apply when the recipe declares them."""
    fields, native_id = recipe.fields, _native_id(row, key, recipe)
    extra = _text(pick(row, fields["context"])) if "context" in fields else ""
    prompt = _blocks(_text(pick(row, fields["prompt"])), extra)
    response = _text(pick(row, fields["response"]))
    if "model_answer" in recipe.drops:
        origin = _text(pick(row, fields["answer_from"])).strip().lower()
        if origin not in ("", "human"):
            return [Drop(native_id, "model_answer", f"answer_from is {origin!r}")]
    if "not_verified" in recipe.drops and pick(row, fields["verified"]) is not True:
        return [Drop(native_id, "not_verified", f"human_verified is {pick(row, fields['verified'])!r}")]
    if "task_label" in recipe.drops and _is_task_label(response):
        return [Drop(native_id, "task_label", f"the output is a structured label: {response[:60]!r}")]
    return [_single(native_id, prompt, response, native_id, _kept(row, recipe))]


def _is_task_label(text: str) -> bool:
    """A JSON object such as `{"TITLE": ...}`: the output of an NLP task template, not a written reply."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return False
    try:
        return isinstance(json.loads(stripped), dict)
    except json.JSONDecodeError:
        return False


def ranked_answers(row: Mapping[str, Any], key: str, recipe: RecipeFields) -> list[Outcome]:
    """A question with several scored human answers (ELI5): the best-scored live answer is the reference."""
    fields, native_id = recipe.fields, _native_id(row, key, recipe)
    answers = zip(_texts(pick(row, fields["response"])), pick(row, fields["score"]), strict=True)
    alive = [(score, text) for text, score in answers if text.strip() not in REMOVED_ANSWERS]
    if not alive:
        return [Drop(native_id, "no_answer", "no answer left after removing deleted and removed ones")]
    score, best = max(alive, key=lambda pair: pair[0])  # the first of equal scores, as listed
    prompt = _blocks(_text(pick(row, fields["prompt"])), _text(pick(row, fields["context"])))
    meta = {"answer_score": score, "answers": len(alive), **_kept(row, recipe)}
    return [_single(native_id, prompt, best, native_id, meta)]


def human_and_model_answers(row: Mapping[str, Any], key: str, recipe: RecipeFields) -> list[Outcome]:
    """A question with human answers and model answers side by side (HC3): every human answer is a
    reference; every model answer is an accounted drop, so the ledger shows what was left out."""
    fields, native_id = recipe.fields, _native_id(row, key, recipe)
    question, group = _text(pick(row, fields["prompt"])), native_id
    humans = [text for text in _texts(pick(row, fields["response"])) if text.strip()]
    models = _texts(pick(row, fields["model_response"]))
    out: list[Outcome] = [
        _single(f"{native_id}-h{i}", question, text, group, _kept(row, recipe))
        for i, text in enumerate(humans)
    ]
    if not humans:
        out.append(Drop(native_id, "no_answer", "the row has no human answer"))
    out += [Drop(f"{native_id}-m{j}", "model_answer", "a model-written answer") for j in range(len(models))]
    return out


def passage_qa(row: Mapping[str, Any], key: str, recipe: RecipeFields) -> list[Outcome]:
    """SQuAD-style: passage, question and answer spans; the first annotated answer is the reference."""
    fields, native_id = recipe.fields, _native_id(row, key, recipe)
    context = _text(pick(row, fields["context"]))
    group = f"passage:{_digest(context)}"
    return [_passage_answer(row, native_id, context, group, recipe)]


def nested_passage_qa(row: Mapping[str, Any], key: str, recipe: RecipeFields) -> list[Outcome]:
    """SQuAD v1.1 file layout, one article per row (DRCD): article → paragraphs → questions. All the
    questions of an article share its group, so an article never straddles splits."""
    fields, article = recipe.fields, _native_id(row, key, recipe)
    out: list[Outcome] = []
    for paragraph in pick(row, fields["paragraphs"]) or []:
        context = _text(pick(paragraph, fields["context"]))
        for qa in pick(paragraph, fields["qas"]) or []:
            out.append(_passage_answer(qa, _text(pick(qa, fields["id"])), context, article, recipe))
    return out or [Drop(article, "no_answer", "the article has no questions")]


def _passage_answer(
    qa: Mapping[str, Any], qid: str, context: str, group: str, recipe: RecipeFields
) -> Outcome:
    question = _text(pick(qa, recipe.fields["prompt"]))
    answers = [text for text in _texts(pick(qa, recipe.fields["response"])) if text.strip()]
    if not answers:
        return Drop(qid, "no_answer", "no annotated answer")
    meta = {"question": question, "has_context": bool(context.strip()), **_kept(qa, recipe)}
    return _single(qid, _blocks(context, question), answers[0], group, meta)


def search_qa(row: Mapping[str, Any], key: str, recipe: RecipeFields) -> list[Outcome]:
    """MS MARCO: a search query, retrieved passages flagged `is_selected`, and editor-written answers."""
    fields, native_id = recipe.fields, _native_id(row, key, recipe)
    answers = [
        a for a in _texts(pick(row, fields["response"])) if a.strip() and a.strip() != MS_MARCO_NO_ANSWER
    ]
    if not answers:
        return [Drop(native_id, "no_answer", f"answers are empty or {MS_MARCO_NO_ANSWER!r}")]
    passages = zip(_texts(pick(row, fields["context"])), pick(row, fields["selected"]), strict=True)
    passage = _blocks(*(text for text, selected in passages if selected))
    if not passage:
        return [Drop(native_id, "no_passage", "no passage is marked is_selected")]
    query = _text(pick(row, fields["prompt"]))
    meta = {"question": query, "has_context": True, **_kept(row, recipe)}
    return [_single(native_id, _blocks(passage, query), answers[0], native_id, meta)]


# -- multi-turn shapes -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Run:
    """Consecutive turns of one speaker, joined with a newline; `turn` is the native index of the last."""

    role: str
    text: str
    turn: int


def _runs(turns: Sequence[tuple[str, str]]) -> list[_Run]:
    runs: list[_Run] = []
    for index, (role, text) in enumerate(turns):
        if runs and runs[-1].role == role:
            runs[-1] = _Run(role, runs[-1].text + "\n" + text, index)
        else:
            runs.append(_Run(role, text, index))
    return runs


def cut_dialogue(
    turns: Sequence[tuple[str, str]], dialogue: str, recipe: RecipeFields, meta: dict[str, Any]
) -> list[Outcome]:
    """One record per responder run: its history is every earlier run, never a later one.

    `turns` are (role, text) with role `user` or `assistant` (the responder). A responder run that opens
    the dialogue has no prompt before it and is dropped; so is an empty responder turn.
    """
    out: list[Outcome] = []
    runs = _runs(turns)
    for position, run in enumerate(runs):
        if run.role != "assistant":
            continue
        key = f"{dialogue}-t{run.turn}"
        if position == 0:
            out.append(Drop(key, "no_prompt", "the dialogue opens with the responder"))
        elif not run.text.strip():
            out.append(Drop(key, "empty_turn", "the responder turn is empty"))
        else:
            messages = tuple(Message(r.role, r.text) for r in runs[: position + 1])
            turn_meta = {"dialogue": dialogue, "target_turn": run.turn, **meta}
            out.append(Draft(key, messages, dialogue, turn_meta))
    return out or [Drop(dialogue, "no_response", "the dialogue has no responder turn")]


def alternating_dialogue(row: Mapping[str, Any], key: str, recipe: RecipeFields) -> list[Outcome]:
    """A list of utterances by two alternating speakers (DailyDialog); the second speaker responds."""
    utterances = _texts(pick(row, recipe.fields["history"]))
    turns = [("assistant" if i % 2 else "user", text.strip()) for i, text in enumerate(utterances)]
    return cut_dialogue(turns, _native_id(row, key, recipe), recipe, _kept(row, recipe))


def woz_turns(row: Mapping[str, Any], key: str, recipe: RecipeFields) -> list[Outcome]:
    """MultiWOZ 2.2: `turns` holds parallel `speaker` and `utterance` lists; `recipe.responder` answers."""
    fields = recipe.fields
    speakers = [WOZ_SPEAKERS[s] if isinstance(s, int) else str(s) for s in pick(row, fields["speaker"])]
    utterances = _texts(pick(row, fields["history"]))
    turns = [
        ("assistant" if speaker == recipe.responder else "user", text.strip())
        for speaker, text in zip(speakers, utterances, strict=True)
    ]
    return cut_dialogue(turns, _native_id(row, key, recipe), recipe, _kept(row, recipe))


def conversational_qa(row: Mapping[str, Any], key: str, recipe: RecipeFields) -> list[Outcome]:
    """CoQA: a story and a chain of questions and free-text answers. The story opens the first user turn;
    an `unknown` answer (unanswerable) is never a target, though later records keep it in their history."""
    fields, dialogue = recipe.fields, _native_id(row, key, recipe)
    questions = _texts(pick(row, fields["prompt"]))
    answers = _texts(pick(row, fields["response"]))
    story = _text(pick(row, fields["context"]))
    turns: list[tuple[str, str]] = []
    for i, (question, answer) in enumerate(zip(questions, answers, strict=True)):
        turns += [("user", _blocks(story, question) if i == 0 else question), ("assistant", answer)]
    out = []
    for outcome in cut_dialogue(turns, dialogue, recipe, _kept(row, recipe)):
        if isinstance(outcome, Draft):
            question = questions[outcome.meta["target_turn"] // 2]
            if outcome.messages[-1].content.strip().lower() == COQA_NO_ANSWER:
                outcome = Drop(outcome.key, "no_answer", "the answer is 'unknown' (unanswerable)")
            else:
                outcome = replace(outcome, meta={**outcome.meta, "question": question, "has_context": True})
        out.append(outcome)
    return out


def message_tree(rows: Sequence[Mapping[str, Any]], key: str, recipe: RecipeFields) -> list[Outcome]:
    """OASST: a tree of prompter/assistant messages linked by parent ids. Each assistant message is one
    accounted item: a record whose history is its chain of ancestors, or a drop. Trees whose initial
    prompt is not in the recipe's language are outside the corpus (the recipe's subset) and yield nothing.
    """
    fields = recipe.fields
    by_id = {_text(pick(r, fields["id"])): r for r in rows}
    root = next((r for r in rows if not pick(r, fields["parent"])), None)
    if root is None or _text(pick(root, fields["lang"])) != recipe.language:
        return []
    out: list[Outcome] = []
    for message in rows:
        if pick(message, fields["role"]) != "assistant":
            continue
        message_id = _text(pick(message, fields["id"]))
        thread = _thread(message, by_id, fields["parent"])
        problem = _message_problem(message, recipe)
        if problem is not None:
            out.append(Drop(message_id, *problem))
        elif thread is None or any(_message_problem(m, recipe) for m in thread[:-1]):
            out.append(
                Drop(message_id, "broken_thread", "an earlier turn is missing, deleted or failed review")
            )
        else:
            messages = tuple(
                Message(
                    "user" if pick(m, fields["role"]) == "prompter" else "assistant",
                    _text(pick(m, fields["response"])),
                )
                for m in thread
            )
            meta = {"dialogue": key, "target_turn": len(thread) - 1, **_kept(message, recipe)}
            out.append(Draft(message_id, messages, key, meta))
    return out


def _thread(
    message: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]], parent_field: str
) -> list[Mapping[str, Any]] | None:
    """The message and its ancestors, root first; None when a parent is missing from the tree."""
    thread = [message]
    while parent := _text(pick(thread[-1], parent_field)):
        if parent not in by_id or len(thread) > len(by_id):
            return None
        thread.append(by_id[parent])
    return thread[::-1]


def _message_problem(message: Mapping[str, Any], recipe: RecipeFields) -> tuple[str, str] | None:
    fields = recipe.fields
    if pick(message, fields["deleted"]):
        return "deleted", "the message was deleted"
    if pick(message, fields["review"]) is False:
        return "failed_review", "the message failed review"
    if pick(message, fields["synthetic"]):
        return "model_answer", "the message is synthetic (model-written)"
    if _text(pick(message, fields["lang"])) != recipe.language:
        return "other_language", f"the message is in {pick(message, fields['lang'])!r}"
    return None


SHAPES: dict[str, Shape] = {
    "prompt_response": Shape(
        prompt_response, "one prompt (instruction, optional input) and one response per row"
    ),
    "ranked_answers": Shape(ranked_answers, "a question with several scored answers; the best-scored one"),
    "human_and_model_answers": Shape(human_and_model_answers, "a question with human and model answers"),
    "passage_qa": Shape(passage_qa, "SQuAD-style passage, question and answer spans, one question per row"),
    "nested_passage_qa": Shape(nested_passage_qa, "SQuAD v1.1 file layout: one article per row"),
    "search_qa": Shape(search_qa, "a query with retrieved passages (is_selected) and written answers"),
    "alternating_dialogue": Shape(alternating_dialogue, "a list of utterances by two alternating speakers"),
    "woz_turns": Shape(woz_turns, "a dialogue with parallel speaker and utterance lists"),
    "conversational_qa": Shape(conversational_qa, "a story with a chain of questions and answers"),
    "message_tree": Shape(
        message_tree, "one message per row, linked into trees by parent ids", unit_role="tree"
    ),
}
