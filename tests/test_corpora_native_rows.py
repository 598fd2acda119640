"""Native-shape rows for every built-in corpus, with the records and drops each must yield.

The rows are invented for these tests (no real corpus content); only their *shape* follows each hub
dataset (field names, nesting, split names), as recorded in the recipe's `assumptions`. Each case lists the
expected items in order: ("keep", native key, [(role, content), ...]) or ("drop", reason).
`tests/test_corpora.py` runs them; this module holds data only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    split: str  # the official (hub) split the rows come from
    rows: list[dict[str, Any]]
    expected: list[tuple]
    part: str | None = None  # the recipe part (config) the rows belong to; None: the first
    extra_parts: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict
    )  # other parts, for local copies


def u(text: str) -> tuple[str, str]:
    return ("user", text)


def a(text: str) -> tuple[str, str]:
    return ("assistant", text)


LIBRARY_NOTE = "The library opens at nine on weekdays and at ten on Saturdays. It is closed on Sundays."
STORY_BOAT = "Mara kept a small boat on the lake. Every summer she painted it green and sailed to the island."
STORY_KITE = "Tom built a red kite from paper and string. The wind carried it over the school roof."
LIGHTHOUSE = (
    "The harbour lighthouse was built in 1871 from local granite and still guides fishing boats home."
)
WEST_LAKE = "西湖位于杭州市西部，湖面约六点五平方千米，三面环山。"
JADE_PEAK = "玉山主峰海拔三千九百五十二公尺，是臺灣的最高峰。"
JADE_SNOW = "每年冬天，玉山山頂常有積雪。"
KEEPER = "The Keeper is a poem by an invented author, first printed in a small coastal magazine."
YELLOW_MOUNTAIN = "黄山位于安徽省南部，以奇松、怪石、云海闻名。"


def _oasst(
    mid: str, parent: str | None, role: str, text: str, lang: str = "zh", **flags: Any
) -> dict[str, Any]:
    row = {
        "message_id": mid,
        "parent_id": parent,
        "user_id": f"user-{mid}",
        "created_date": "2023-05-01T10:00:00",
        "text": text,
        "role": role,
        "lang": lang,
        "review_count": 3,
        "review_result": True,
        "deleted": False,
        "rank": 0 if role == "assistant" else None,
        "synthetic": False,
        "model_name": None,
        "message_tree_id": "t1" if mid.startswith("m") else "t2",
        "tree_state": "ready_for_export",
    }
    row.update(flags)
    return row


NATIVE: dict[str, Case] = {
    "dolly": Case(
        split="train",
        rows=[
            {
                "instruction": "Name three colours of a rainbow.",
                "context": "",
                "response": "Red, orange and yellow.",
                "category": "brainstorming",
            },
            {
                "instruction": "Summarise the note in one sentence.",
                "context": LIBRARY_NOTE,
                "response": "The library opens at nine on weekdays, ten on Saturdays, and never on Sundays.",
                "category": "summarization",
            },
        ],
        expected=[
            ("keep", "0", [u("Name three colours of a rainbow."), a("Red, orange and yellow.")]),
            (
                "keep",
                "1",
                [
                    u("Summarise the note in one sentence.\n\n" + LIBRARY_NOTE),
                    a("The library opens at nine on weekdays, ten on Saturdays, and never on Sundays."),
                ],
            ),
        ],
    ),
    "eli5_category": Case(
        split="validation1",
        rows=[
            {
                "q_id": "e1",
                "title": "Why does bread go stale?",
                "selftext": "",
                "category": "Chemistry",
                "subreddit": "explainlikeimfive",
                "answers": {
                    "a_id": ["x1", "x2", "x3"],
                    "text": [
                        "Starch molecules slowly recrystallise and squeeze water out, so the crumb firms up.",
                        "[deleted]",
                        "It dries out.",
                    ],
                    "score": [12, 50, 3],
                    "text_urls": [["https://example.org/starch"], [], []],
                },
                "title_urls": [],
                "selftext_urls": [],
            },
            {
                "q_id": "e2",
                "title": "How do bees find flowers?",
                "selftext": "From far away, I mean.",
                "category": "Biology",
                "subreddit": "explainlikeimfive",
                "answers": {"a_id": ["y1"], "text": ["[removed]"], "score": [9], "text_urls": [[]]},
                "title_urls": [],
                "selftext_urls": [],
            },
            {
                "q_id": "e3",
                "title": "Why is the sky dark at night?",
                "selftext": "Stars are everywhere, right?",
                "category": "Physics",
                "subreddit": "explainlikeimfive",
                "answers": {
                    "a_id": ["z1", "z2"],
                    "text": [
                        "Light from very distant stars has not reached us yet, and space keeps stretching.",
                        "Because the sun is on the other side.",
                    ],
                    "score": [7, 7],
                    "text_urls": [[], []],
                },
                "title_urls": [],
                "selftext_urls": [],
            },
        ],
        expected=[
            (
                "keep",
                "e1",
                [
                    u("Why does bread go stale?"),
                    a("Starch molecules slowly recrystallise and squeeze water out, so the crumb firms up."),
                ],
            ),
            ("drop", "dropped_no_answer"),
            (
                "keep",
                "e3",
                [
                    u("Why is the sky dark at night?\n\nStars are everywhere, right?"),
                    a("Light from very distant stars has not reached us yet, and space keeps stretching."),
                ],
            ),
        ],
    ),
    "dailydialog": Case(
        split="train",
        rows=[
            {
                "dialog": [
                    "Are you coming to the market today ? ",
                    " Yes , I need some apples . ",
                    " Great , let's go together . ",
                    " Fine , meet me at ten . ",
                ],
                "act": [2, 1, 3, 4],
                "emotion": [0, 0, 4, 0],
            },
            {"dialog": ["Hello ?"], "act": [2], "emotion": [0]},
            {"dialog": ["Did you lock the door ?", " "], "act": [2, 1], "emotion": [0, 0]},
            {
                "dialog": ["What time is it ?", " Almost noon . ", " Thanks . "],
                "act": [2, 1, 4],
                "emotion": [0, 0, 0],
            },
        ],
        expected=[
            ("keep", "0-t1", [u("Are you coming to the market today ?"), a("Yes , I need some apples .")]),
            (
                "keep",
                "0-t3",
                [
                    u("Are you coming to the market today ?"),
                    a("Yes , I need some apples ."),
                    u("Great , let's go together ."),
                    a("Fine , meet me at ten ."),
                ],
            ),
            ("drop", "dropped_no_response"),
            ("drop", "dropped_empty_turn"),
            ("keep", "3-t1", [u("What time is it ?"), a("Almost noon .")]),
        ],
    ),
    "ms_marco": Case(
        split="validation",
        rows=[
            {
                "answers": ["About 20 minutes."],
                "passages": {
                    "is_selected": [0, 1],
                    "passage_text": [
                        "Green tea should steep for two to three minutes.",
                        "Hard-boiled eggs need about 20 minutes, cooling included.",
                    ],
                    "url": ["https://a.example/tea", "https://b.example/eggs"],
                },
                "query": "how long to hard boil eggs",
                "query_id": 101,
                "query_type": "NUMERIC",
                "wellFormedAnswers": ["It takes about 20 minutes to hard boil eggs."],
            },
            {
                "answers": ["No Answer Present."],
                "passages": {
                    "is_selected": [0],
                    "passage_text": ["Unrelated text."],
                    "url": ["https://c.example"],
                },
                "query": "what colour is the invented moon",
                "query_id": 102,
                "query_type": "DESCRIPTION",
                "wellFormedAnswers": [],
            },
            {
                "answers": ["Paris"],
                "passages": {"is_selected": [0, 0], "passage_text": ["One.", "Two."], "url": ["u1", "u2"]},
                "query": "capital of the invented republic",
                "query_id": 103,
                "query_type": "LOCATION",
                "wellFormedAnswers": [],
            },
        ],
        expected=[
            (
                "keep",
                "101",
                [
                    u(
                        "Hard-boiled eggs need about 20 minutes, cooling included.\n\n"
                        "how long to hard boil eggs"
                    ),
                    a("About 20 minutes."),
                ],
            ),
            ("drop", "dropped_no_answer"),
            ("drop", "dropped_no_passage"),
        ],
    ),
    "coqa": Case(
        split="validation",
        rows=[
            {
                "source": "mctest",
                "story": STORY_BOAT,
                "questions": ["What did Mara keep?", "Where?", "What was the boat called?"],
                "answers": {
                    "input_text": ["a small boat", "on the lake", "unknown"],
                    "answer_start": [10, 30, -1],
                    "answer_end": [22, 41, -1],
                },
            },
            {
                "source": "mctest",
                "story": STORY_KITE,
                "questions": ["What did Tom build?", "What colour was it?"],
                "answers": {
                    "input_text": ["a kite", "red"],
                    "answer_start": [10, 12],
                    "answer_end": [22, 15],
                },
            },
        ],
        expected=[
            ("keep", "0-t1", [u(STORY_BOAT + "\n\nWhat did Mara keep?"), a("a small boat")]),
            (
                "keep",
                "0-t3",
                [u(STORY_BOAT + "\n\nWhat did Mara keep?"), a("a small boat"), u("Where?"), a("on the lake")],
            ),
            ("drop", "dropped_no_answer"),
            ("keep", "1-t1", [u(STORY_KITE + "\n\nWhat did Tom build?"), a("a kite")]),
            (
                "keep",
                "1-t3",
                [u(STORY_KITE + "\n\nWhat did Tom build?"), a("a kite"), u("What colour was it?"), a("red")],
            ),
        ],
    ),
    "squad_v2": Case(
        split="validation",
        rows=[
            {
                "id": "q1",
                "title": "Lighthouses",
                "context": LIGHTHOUSE,
                "question": "When was the lighthouse built?",
                "answers": {"text": ["1871", "in 1871"], "answer_start": [34, 31]},
            },
            {
                "id": "q2",
                "title": "Lighthouses",
                "context": LIGHTHOUSE,
                "question": "Who designed the lighthouse?",
                "answers": {"text": [], "answer_start": []},
            },
        ],
        expected=[
            ("keep", "q1", [u(LIGHTHOUSE + "\n\nWhen was the lighthouse built?"), a("1871")]),
            ("drop", "dropped_no_answer"),
        ],
    ),
    "natural_questions": Case(
        split="train",
        rows=[
            {
                "query": "who wrote the poem about the lonely lighthouse keeper",
                "answer": KEEPER,
            },
            {
                "query": "when did the invented city open its first tram line",
                "answer": "The invented city opened its first tram line one rainy spring, long ago.",
            },
        ],
        expected=[
            (
                "keep",
                "0",
                [
                    u("who wrote the poem about the lonely lighthouse keeper"),
                    a(KEEPER),
                ],
            ),
            (
                "keep",
                "1",
                [
                    u("when did the invented city open its first tram line"),
                    a("The invented city opened its first tram line one rainy spring, long ago."),
                ],
            ),
        ],
    ),
    "multiwoz": Case(
        split="test",
        rows=[
            {
                "dialogue_id": "MUL0001.json",
                "services": ["restaurant"],
                "turns": {
                    "turn_id": ["0", "1", "2", "3", "4"],
                    "speaker": [0, 1, 0, 0, 1],
                    "utterance": [
                        "I need a cheap place to eat in the centre.",
                        "There are three. Any cuisine?",
                        "Italian, please.",
                        "And it should be open late.",
                        "Pizza Nova is cheap, central and open until midnight.",
                    ],
                },
            },
            {
                "dialogue_id": "SNG0002.json",
                "services": ["taxi"],
                "turns": {
                    "turn_id": ["0", "1"],
                    "speaker": [1, 0],
                    "utterance": ["Taxi desk.", "I need a taxi."],
                },
            },
        ],
        expected=[
            (
                "keep",
                "MUL0001.json-t1",
                [u("I need a cheap place to eat in the centre."), a("There are three. Any cuisine?")],
            ),
            (
                "keep",
                "MUL0001.json-t4",
                [
                    u("I need a cheap place to eat in the centre."),
                    a("There are three. Any cuisine?"),
                    u("Italian, please.\nAnd it should be open late."),
                    a("Pizza Nova is cheap, central and open until midnight."),
                ],
            ),
            ("drop", "dropped_no_prompt"),
        ],
    ),
    "coig_cqia": Case(
        split="train",
        part="zhihu",
        rows=[
            {
                "instruction": "为什么猫喜欢晒太阳？",
                "input": "",
                "output": "猫的祖先生活在干燥温暖的地方，晒太阳能帮它们保持体温，也让它们觉得舒服。",
                "task_type": {"major": ["问答"], "minor": ["社区问答"]},
                "domain": ["生活"],
                "answer_from": "human",
                "human_verified": True,
                "copyright": "示例作者",
            },
            {
                "instruction": "写一句关于秋天的话。",
                "input": "",
                "output": "秋风把树叶吹成了金色。",
                "task_type": {"major": ["生成"], "minor": ["写作"]},
                "domain": ["文学"],
                "answer_from": "llm",
                "human_verified": True,
                "copyright": "示例",
            },
            {
                "instruction": "冬天怎样给植物浇水？",
                "input": "",
                "output": "少浇一些，选在中午气温高的时候。",
                "task_type": {"major": ["问答"], "minor": ["生活"]},
                "domain": ["园艺"],
                "answer_from": "human",
                "human_verified": False,
                "copyright": "示例",
            },
            {
                "instruction": "从文本中抽取标题。",
                "input": "今天发布了新的公交线路。",
                "output": '{"TITLE": "新公交线路"}',
                "task_type": {"major": ["信息抽取"], "minor": ["标题"]},
                "domain": ["新闻"],
                "answer_from": "",
                "human_verified": True,
                "copyright": "示例",
            },
            {
                "instruction": "解释成语的意思。",
                "input": "画蛇添足",
                "output": "比喻做了多余的事，反而把事情弄糟。",
                "task_type": {"major": ["问答"], "minor": ["成语"]},
                "domain": ["语文"],
                "answer_from": "",
                "human_verified": True,
                "copyright": "示例",
            },
        ],
        expected=[
            (
                "keep",
                "0",
                [
                    u("为什么猫喜欢晒太阳？"),
                    a("猫的祖先生活在干燥温暖的地方，晒太阳能帮它们保持体温，也让它们觉得舒服。"),
                ],
            ),
            ("drop", "dropped_model_answer"),
            ("drop", "dropped_not_verified"),
            ("drop", "dropped_task_label"),
            ("keep", "4", [u("解释成语的意思。\n\n画蛇添足"), a("比喻做了多余的事，反而把事情弄糟。")]),
        ],
    ),
    "hc3_chinese": Case(
        split="train",
        rows=[
            {
                "id": 7,
                "question": "为什么冬天容易感冒？",
                "human_answers": [
                    "冬天室内外温差大，人们又常待在不通风的房间里，病毒更容易传播。",
                    "天冷的时候鼻腔黏膜的防御变弱，所以更容易被感染。",
                ],
                "chatgpt_answers": ["冬季感冒多发的原因有很多，主要包括以下几点。"],
            },
            {
                "id": 8,
                "question": "怎样泡绿茶？",
                "human_answers": [],
                "chatgpt_answers": ["用八十度左右的水冲泡即可。"],
            },
        ],
        expected=[
            (
                "keep",
                "7-h0",
                [
                    u("为什么冬天容易感冒？"),
                    a("冬天室内外温差大，人们又常待在不通风的房间里，病毒更容易传播。"),
                ],
            ),
            (
                "keep",
                "7-h1",
                [u("为什么冬天容易感冒？"), a("天冷的时候鼻腔黏膜的防御变弱，所以更容易被感染。")],
            ),
            ("drop", "dropped_model_answer"),
            ("drop", "dropped_no_answer"),
            ("drop", "dropped_model_answer"),
        ],
    ),
    "oasst2_zh": Case(
        split="validation",
        rows=[
            _oasst("m1", None, "prompter", "你好，能推荐一本小说吗？"),
            _oasst("m2", "m1", "assistant", "可以试试《活着》，故事朴素而感人。"),
            _oasst("m3", "m1", "assistant", "推荐《三体》。", deleted=True),
            _oasst("m4", "m2", "prompter", "还有别的吗？"),
            _oasst("m5", "m4", "assistant", "《平凡的世界》也很值得一读。"),
            _oasst("m6", "m1", "assistant", "Try a mystery novel.", lang="en"),
            _oasst("m7", "m3", "prompter", "为什么推荐它？"),
            _oasst("m8", "m7", "assistant", "因为它的想象力很丰富。"),
            _oasst("m9", "m1", "assistant", "我推荐一本书。", synthetic=True),
            _oasst("m10", "m1", "assistant", "随便看看吧。", review_result=False),
            _oasst("n1", None, "prompter", "Hi there, any book tips?", lang="en"),
            _oasst("n2", "n1", "assistant", "Try a short story collection.", lang="en"),
        ],
        expected=[
            ("keep", "m2", [u("你好，能推荐一本小说吗？"), a("可以试试《活着》，故事朴素而感人。")]),
            ("drop", "dropped_deleted"),
            (
                "keep",
                "m5",
                [
                    u("你好，能推荐一本小说吗？"),
                    a("可以试试《活着》，故事朴素而感人。"),
                    u("还有别的吗？"),
                    a("《平凡的世界》也很值得一读。"),
                ],
            ),
            ("drop", "dropped_other_language"),
            ("drop", "dropped_broken_thread"),
            ("drop", "dropped_model_answer"),
            ("drop", "dropped_failed_review"),
        ],
    ),
    "cmrc2018": Case(
        split="validation",
        rows=[
            {
                "id": "DEV_0_QUERY_0",
                "context": WEST_LAKE,
                "question": "西湖位于哪个城市？",
                "answers": {"text": ["杭州市"], "answer_start": [4]},
            },
            {
                "id": "DEV_0_QUERY_1",
                "context": WEST_LAKE,
                "question": "西湖最深处有多深？",
                "answers": {"text": [""], "answer_start": [-1]},
            },
        ],
        expected=[
            ("keep", "DEV_0_QUERY_0", [u(WEST_LAKE + "\n\n西湖位于哪个城市？"), a("杭州市")]),
            ("drop", "dropped_no_answer"),
        ],
    ),
    "drcd": Case(
        split="dev",
        rows=[
            {
                "id": "1001",
                "title": "玉山",
                "paragraphs": [
                    {
                        "id": "1001-1",
                        "context": JADE_PEAK,
                        "qas": [
                            {
                                "id": "1001-1-1",
                                "question": "玉山主峰海拔多少？",
                                "answers": [{"id": "1", "text": "三千九百五十二公尺", "answer_start": 6}],
                            },
                            {
                                "id": "1001-1-2",
                                "question": "玉山是哪裡的最高峰？",
                                "answers": [{"id": "1", "text": "臺灣", "answer_start": 19}],
                            },
                        ],
                    },
                    {
                        "id": "1001-2",
                        "context": JADE_SNOW,
                        "qas": [
                            {
                                "id": "1001-2-1",
                                "question": "山頂何時常有積雪？",
                                "answers": [{"id": "1", "text": "每年冬天", "answer_start": 0}],
                            }
                        ],
                    },
                ],
            },
            {"id": "1002", "title": "空白條目", "paragraphs": []},
        ],
        expected=[
            ("keep", "1001-1-1", [u(JADE_PEAK + "\n\n玉山主峰海拔多少？"), a("三千九百五十二公尺")]),
            ("keep", "1001-1-2", [u(JADE_PEAK + "\n\n玉山是哪裡的最高峰？"), a("臺灣")]),
            ("keep", "1001-2-1", [u(JADE_SNOW + "\n\n山頂何時常有積雪？"), a("每年冬天")]),
            ("drop", "dropped_no_answer"),
        ],
    ),
    "dureader": Case(
        split="train",
        rows=[
            {
                "id": "dr1",
                "context": YELLOW_MOUNTAIN,
                "question": "黄山在哪个省？",
                "answers": {"text": ["安徽省"], "answer_start": [3]},
            },
            {
                "id": "dr2",
                "context": YELLOW_MOUNTAIN,
                "question": "黄山有多少座山峰？",
                "answers": {"text": [], "answer_start": []},
            },
        ],
        expected=[
            ("keep", "dr1", [u(YELLOW_MOUNTAIN + "\n\n黄山在哪个省？"), a("安徽省")]),
            ("drop", "dropped_no_answer"),
        ],
    ),
}
