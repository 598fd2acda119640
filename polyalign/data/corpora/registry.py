"""The paper's fourteen corpora as recipes, the groups `paper-en`, `paper-zh` and `paper`, and loud lookups.

Cells follow the development corpus (its README): COIG-CQIA's zhihu answers are `longform_qa` like ELI5,
the rest of COIG-CQIA is `assistant_like`. Hub ids, configs and native fields were read from the dataset
cards and loader scripts (each recipe's `assumptions` says which); nothing here was checked against live
data, because this project is built offline. Script-based hub datasets (which `datasets` 4+ no longer
runs) are read from the hub's `refs/convert/parquet` branch. Owns: the registry. Reads and writes nothing.

Official splits: a public labelled test split stays `test`; when the test answers are withheld (SQuAD v2,
CoQA, MS MARCO v1.1, DuReader-robust, OASST2) the public validation split is the evaluation set the
literature reports on, so it becomes our `test` and the corpus contributes no `val`. A corpus published as
one `train` split has no official evaluation split, so its records are left to prepare's seeded group split.
"""

from __future__ import annotations

import difflib

from polyalign.data.corpora.adapters import SHAPES
from polyalign.data.corpora.recipe import CorpusRecipe, HubPart
from polyalign.errors import ConfigError

CONVERTED = "refs/convert/parquet"  # the hub's parquet export of script-based datasets
WITHHELD = "official test answers are withheld (leaderboard)"
SQUAD_FIELDS = {"id": "id", "context": "context", "prompt": "question", "response": "answers.text"}
COIG_SUBSETS = (
    "chinese_traditional",
    "coig_pc",
    "douban",
    "exam",
    "finance",
    "human_value",
    "logi_qa",
    "ruozhiba",
    "segmentfault",
    "wiki",
    "wikihow",
    "xhs",
    "zhihu",
)

_RECIPES = (
    CorpusRecipe(
        name="dolly",
        title="databricks-dolly-15k: instructions and responses written by Databricks employees",
        language="en",
        track="single",
        family="assistant_like",
        licence="CC BY-SA 3.0",
        parts=(HubPart("databricks/databricks-dolly-15k"),),
        shape="prompt_response",
        fields={"prompt": "instruction", "context": "context", "response": "response"},
        splits={"train": None},
        drops={},
        keep=("category",),
        assumptions="one JSONL file, split train, columns instruction/context/response/category, no id "
        "(dataset card; TFDS catalogue). Records are keyed by row number.",
    ),
    CorpusRecipe(
        name="eli5_category",
        title="ELI5-Category: r/explainlikeimfive questions with Reddit answers, by topic",
        language="en",
        track="single",
        family="longform_qa",
        licence="unknown (Reddit-derived; research use)",
        parts=(HubPart("rexarski/eli5_category", revision=CONVERTED, folder="default"),),
        shape="ranked_answers",
        fields={
            "id": "q_id",
            "prompt": "title",
            "context": "selftext",
            "response": "answers.text",
            "score": "answers.score",
        },
        splits={"train": "train", "validation1": "val", "validation2": "val", "test": "test"},
        drops={"no_answer": "every answer was deleted or removed"},
        keep=("category",),
        assumptions="q_id, title, selftext, category, subreddit and answers{a_id, text, score, text_urls}; "
        "splits train/validation1/validation2/test (dataset card dataset_info). The repo has a loading "
        "script, so the parquet export is read. One record per question: its best-scored live answer.",
    ),
    CorpusRecipe(
        name="dailydialog",
        title="DailyDialog: written everyday two-person dialogues",
        language="en",
        track="multi",
        family="open_chat",
        licence="CC BY-NC-SA 4.0",
        parts=(HubPart("li2017dailydialog/daily_dialog", revision=CONVERTED, folder="default"),),
        shape="alternating_dialogue",
        fields={"history": "dialog"},
        splits={"train": "train", "validation": "val", "test": "test"},
        drops={
            "empty_turn": "the responder turn is empty",
            "no_response": "the dialogue has a single utterance",
        },
        dialogue="one record per utterance of the second speaker; its history is every earlier utterance "
        "(first speaker = user, second = assistant); the original spaced tokenisation is kept",
        responder="the second speaker (utterances 1, 3, 5, ...)",
        assumptions="dialog (list of utterances), act, emotion; no dialogue id; splits "
        "train/validation/test (dataset card dataset_info). Loading script on main, so the parquet export.",
    ),
    CorpusRecipe(
        name="ms_marco",
        title="MS MARCO v1.1: Bing queries, retrieved passages and editor-written answers",
        language="en",
        track="single",
        family="qa_search",
        licence="MS MARCO terms: non-commercial research",
        parts=(HubPart("microsoft/ms_marco", config="v1.1", folder="v1.1"),),
        shape="search_qa",
        fields={
            "id": "query_id",
            "prompt": "query",
            "context": "passages.passage_text",
            "selected": "passages.is_selected",
            "response": "answers",
        },
        splits={"train": "train", "validation": "test"},
        ignored_splits={"test": WITHHELD},
        drops={
            "no_answer": "no answer, or 'No Answer Present.'",
            "no_passage": "no passage is marked is_selected, so the answer has no context",
        },
        keep=("query_type",),
        assumptions="config v1.1: answers (list), passages{is_selected, passage_text, url}, query, query_id, "
        "query_type, wellFormedAnswers; splits train/validation/test (dataset card dataset_info). The "
        "selected passages, joined by blank lines, form the context; the first answer is the reference.",
    ),
    CorpusRecipe(
        name="coqa",
        title="CoQA: conversational questions and free-text answers about a story",
        language="en",
        track="multi",
        family="qa_search",
        licence="mixed per domain (CC BY-SA 4.0, MSR-LA, Apache 2.0, RACE terms)",
        parts=(HubPart("stanfordnlp/coqa"),),
        shape="conversational_qa",
        fields={"context": "story", "prompt": "questions", "response": "answers.input_text"},
        splits={"train": "train", "validation": "test"},
        drops={"no_answer": "the answer is 'unknown' (unanswerable from the story)"},
        keep=("source",),
        dialogue="one record per answer; the story opens the first user turn (passage, blank line, "
        "question); the history holds every earlier question and answer",
        responder="the answerer (answers.input_text)",
        assumptions="source, story, questions (list), answers{input_text, answer_start, answer_end}; no "
        "id; splits train/validation, the test set is not public (dataset card dataset_info; parquet).",
    ),
    CorpusRecipe(
        name="squad_v2",
        title="SQuAD 2.0: crowd-written questions on Wikipedia paragraphs",
        language="en",
        track="single",
        family="qa_search",
        licence="CC BY-SA 4.0",
        parts=(HubPart("rajpurkar/squad_v2", config="squad_v2"),),
        shape="passage_qa",
        fields=SQUAD_FIELDS,
        splits={"train": "train", "validation": "test"},
        drops={"no_answer": "SQuAD 2.0 unanswerable question: there is no human answer"},
        keep=("title",),
        assumptions="id, title, context, question, answers{text, answer_start}; splits train/validation "
        "(dataset card dataset_info). The first annotated answer is the reference.",
    ),
    CorpusRecipe(
        name="natural_questions",
        title="Natural Questions (sentence-transformers pairs): Google queries and Wikipedia answers",
        language="en",
        track="single",
        family="qa_search",
        licence="CC BY-SA 3.0",
        parts=(HubPart("sentence-transformers/natural-questions", config="pair", folder="pair"),),
        shape="prompt_response",
        fields={"prompt": "query", "response": "answer"},
        splits={"train": None},
        drops={},
        assumptions="config pair: columns query and answer, split train only (dataset card); the variant "
        "the reference used, with no separate passage. Records are keyed by row number.",
    ),
    CorpusRecipe(
        name="multiwoz",
        title="MultiWOZ 2.2: multi-domain task dialogues between a user and a clerk",
        language="en",
        track="multi",
        family="task_dialogue",
        licence="MIT (MultiWOZ repository; the hub card says Apache 2.0)",
        parts=(HubPart("pfb30/multi_woz_v22", revision=CONVERTED, folder="v2.2"),),
        shape="woz_turns",
        fields={"id": "dialogue_id", "speaker": "turns.speaker", "history": "turns.utterance"},
        splits={"train": "train", "validation": "val", "test": "test"},
        drops={
            "no_prompt": "a SYSTEM run opens the dialogue",
            "empty_turn": "the SYSTEM turn is empty",
            "no_response": "the dialogue has no SYSTEM turn",
        },
        keep=("services",),
        dialogue="one record per SYSTEM run; its history is every earlier turn (USER = user, SYSTEM = "
        "assistant); consecutive turns of one speaker are joined with a newline",
        responder="SYSTEM",
        assumptions="dialogue_id, services, turns{turn_id, speaker (class label 0 USER / 1 SYSTEM), "
        "utterance, frames, dialogue_acts}; splits train/validation/test (dataset card). Loading script on "
        "main, so the parquet export (config folder v2.2).",
    ),
    CorpusRecipe(
        name="coig_cqia",
        title="COIG-CQIA: Chinese instructions with human-written answers from the web",
        language="zh",
        track="single",
        family="assistant_like",
        licence="not stated; each row has a `copyright` field (research use)",
        parts=tuple(
            HubPart(
                "m-a-p/COIG-CQIA",
                config=subset,
                folder=subset,
                family="longform_qa" if subset == "zhihu" else None,
            )
            for subset in COIG_SUBSETS
        ),
        shape="prompt_response",
        fields={
            "prompt": "instruction",
            "context": "input",
            "response": "output",
            "answer_from": "answer_from",
            "verified": "human_verified",
        },
        splits={"train": None},
        drops={
            "model_answer": "answer_from is neither human nor empty: the answer is model-written",
            "not_verified": "human_verified is not true",
            "task_label": "the output is a JSON task label (e.g. finance_coig_pc), not a written reply",
        },
        keep=("task_type", "domain", "answer_from", "human_verified"),
        assumptions="one config per subset folder of JSONL files, split train; instruction, input, output, "
        "task_type{major, minor}, domain, answer_from, human_verified, copyright (dataset README, read in "
        "the qoioioi/COIG-CQIA mirror the development corpus used).",
    ),
    CorpusRecipe(
        name="hc3_chinese",
        title="HC3-Chinese: Chinese questions with human and ChatGPT answers",
        language="zh",
        track="single",
        family="longform_qa",
        licence="CC BY-SA 4.0",
        parts=(HubPart("Hello-SimpleAI/HC3-Chinese", revision=CONVERTED, folder="all"),),
        shape="human_and_model_answers",
        fields={
            "id": "id",
            "prompt": "question",
            "response": "human_answers",
            "model_response": "chatgpt_answers",
        },
        splits={"train": None},
        drops={
            "model_answer": "a ChatGPT answer: model output is never a human reference",
            "no_answer": "the row has no human answer",
        },
        assumptions="config all (the union of baike, open_qa, nlpcc_dbqa, finance, medicine, law, "
        "psychology): id, question, human_answers (list), chatgpt_answers (list); split train only (repo "
        "file listing: one JSONL per config and a loading script, so the parquet export).",
    ),
    CorpusRecipe(
        name="oasst2_zh",
        title="OpenAssistant Conversations 2, Chinese trees: volunteer-written assistant threads",
        language="zh",
        track="multi",
        family="open_chat",
        licence="Apache 2.0",
        parts=(HubPart("OpenAssistant/oasst2"),),
        shape="message_tree",
        fields={
            "id": "message_id",
            "parent": "parent_id",
            "tree": "message_tree_id",
            "role": "role",
            "prompt": "text",
            "response": "text",
            "lang": "lang",
            "deleted": "deleted",
            "review": "review_result",
            "synthetic": "synthetic",
        },
        splits={"train": "train", "validation": "test"},
        drops={
            "deleted": "the assistant message was deleted",
            "failed_review": "the assistant message failed review",
            "model_answer": "the assistant message is synthetic (model-written)",
            "other_language": "the assistant message is not in Chinese",
            "broken_thread": "an earlier message of the thread is missing, deleted or failed review",
        },
        keep=("rank",),
        dialogue="one record per assistant message; its history is its chain of ancestors from the initial "
        "prompt (prompter = user, assistant = assistant), so sibling branches and replies never enter it",
        responder="assistant (role == 'assistant')",
        subset="message trees whose initial prompt has lang == 'zh'; other trees are not part of this corpus",
        assumptions="one message per row: message_id, parent_id, message_tree_id, text, role "
        "(prompter/assistant), lang, review_result, deleted, rank, synthetic, model_name; splits "
        "train/validation (dataset card dataset_info; parquet). Family open_chat: the paper's zh multi cell.",
    ),
    CorpusRecipe(
        name="cmrc2018",
        title="CMRC 2018: span-extraction reading comprehension on Chinese Wikipedia",
        language="zh",
        track="single",
        family="qa_search",
        licence="CC BY-SA 4.0",
        parts=(HubPart("hfl/cmrc2018"),),
        shape="passage_qa",
        fields=SQUAD_FIELDS,
        splits={"train": "train", "validation": "val", "test": "test"},
        drops={"no_answer": "no annotated answer"},
        assumptions="id, context, question, answers{text, answer_start}; splits train/validation/test "
        "(dataset card dataset_info; converted to parquet).",
    ),
    CorpusRecipe(
        name="drcd",
        title="DRCD: Delta Reading Comprehension Dataset, Traditional Chinese Wikipedia",
        language="zh",
        track="single",
        family="qa_search",
        licence="CC BY-SA 3.0 (DRCD release; the hub mirror tags CC BY 3.0)",
        parts=(HubPart("voidful/DRCD"),),
        shape="nested_passage_qa",
        fields={
            "id": "id",
            "paragraphs": "paragraphs",
            "context": "context",
            "qas": "qas",
            "prompt": "question",
            "response": "answers.text",
        },
        splits={"train": "train", "dev": "val", "validation": "val", "test": "test"},
        drops={"no_answer": "no annotated answer (or an article without questions)"},
        assumptions="community parquet mirror of the DRCD release, one article per row in the SQuAD v1.1 "
        "layout: id, title, paragraphs[{id, context, qas[{id, question, answers[{id, text, "
        "answer_start}]}]}]; splits train/dev/test. Read from the sibling voidful/DRCDC dataset_infos.json "
        "and the repo listing; not checked against the files themselves.",
    ),
    CorpusRecipe(
        name="dureader",
        title="DuReader-robust: Baidu search questions with answer spans in passages",
        language="zh",
        track="single",
        family="qa_search",
        licence="Apache 2.0",
        parts=(HubPart("PaddlePaddle/dureader_robust", revision=CONVERTED, folder="plain_text"),),
        shape="passage_qa",
        fields=SQUAD_FIELDS,
        splits={"train": "train", "validation": "test"},
        ignored_splits={"test": WITHHELD},
        drops={"no_answer": "no annotated answer"},
        assumptions="SQuAD-style id, context, question, answers{text, answer_start}; config plain_text; "
        "splits train/validation/test with test answers withheld (repo listing and loading script; the "
        "hub has no DuReader 2.0). Loading script on main, so the parquet export.",
    ),
)

GROUPS: dict[str, tuple[str, ...]] = {
    "paper-en": tuple(r.name for r in _RECIPES if r.language == "en"),
    "paper-zh": tuple(r.name for r in _RECIPES if r.language == "zh"),
    "paper": tuple(r.name for r in _RECIPES),
}


def _register(recipes: tuple[CorpusRecipe, ...]) -> dict[str, CorpusRecipe]:
    registry: dict[str, CorpusRecipe] = {}
    for recipe in recipes:
        if recipe.name in registry or recipe.name in GROUPS:
            raise ValueError(f"corpus name {recipe.name!r} is registered twice")
        if recipe.shape not in SHAPES:
            raise ValueError(f"corpus {recipe.name!r} names shape {recipe.shape!r}; known: {sorted(SHAPES)}")
        registry[recipe.name] = recipe
    return registry


RECIPES = _register(_RECIPES)


def list_recipes() -> list[CorpusRecipe]:
    """Every registered corpus, English first, in the paper's order."""
    return list(RECIPES.values())


def get_recipe(name: str) -> CorpusRecipe:
    if name not in RECIPES:
        raise ConfigError(_unknown(name, list(RECIPES)))
    return RECIPES[name]


def describe_recipe(name: str) -> list[tuple[str, str]]:
    """The rows of `polyalign data show NAME`: the recipe, with what its row shape does."""
    recipe = get_recipe(name)
    return recipe.describe(SHAPES[recipe.shape].summary)


def expand_corpus_names(spec: str) -> list[str]:
    """`paper-en,dolly` → the corpus names, groups expanded, in order, each once."""
    names: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if item not in GROUPS and item not in RECIPES:
            raise ConfigError(_unknown(item, [*GROUPS, *RECIPES]))
        names += [n for n in GROUPS.get(item, (item,)) if n not in names]
    if not names:
        raise ConfigError(
            f"no corpus named in {spec!r}; use {', '.join(GROUPS)} or names from `polyalign data list`"
        )
    return names


def _unknown(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return f"unknown corpus {name!r}.{hint} Available: {', '.join(known)} (see `polyalign data list`)"
