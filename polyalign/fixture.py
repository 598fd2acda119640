"""A SYNTHETIC bilingual (EN/ZH) corpus, generated in code, for tests and the offline default of the main job.

Nothing here comes from a real data set: every text is assembled from the small vocabularies and sentence
templates below, and the places, people and landmarks are invented. Every record says so
(`meta["synthetic"] = True`, source `fixture-<language>-<family>`). The corpus exists so that every stage
can run without the development corpus and still meet the situations real data brings: all 80 buckets
`language|track|family|length_bin` filled, a few of them sparse (so the back-off to the parent cell runs),
multi-turn records cut from one dialogue that share their history (so grouped splits matter), reading-
comprehension questions that share a passage, and a few planted exact duplicates (so dedup has work).

Generation is seeded and deterministic: the same seed gives the same records in the same order.
Owns: the generator and its vocabularies. Reads nothing; `write_fixture_corpus` writes one JSONL file.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from polyalign.buckets import FAMILIES, LENGTH_BINS, PAPER_EDGES, TRACKS, length_units
from polyalign.records import Message, Record, write_jsonl

LANGUAGES = ("en", "zh")
# Inclusive unit ranges per bin; xlong is capped so fixture responses stay cheap to score.
_XLONG_MAX = 400
_BIN_LOWS = (1, *(edge + 1 for edge in PAPER_EDGES))
BIN_RANGES = dict(zip(LENGTH_BINS, zip(_BIN_LOWS, (*PAPER_EDGES, _XLONG_MAX), strict=True), strict=True))
_DENSE_SIZE = (25, 40)  # records per ordinary bucket
_SPARSE_SIZE = (3, 9)  # records per sparse bucket: below any sensible back-off threshold
_N_SPARSE = (6, 10)  # how many buckets are sparse
_N_DUPLICATES = (5, 8)
_MAX_TARGETS_PER_DIALOGUE = 4  # records cut from one dialogue (its 2nd..5th assistant turns)
_MAX_QUESTIONS_PER_PASSAGE = 4
_PASSAGE_SHARE = 0.5  # share of single-turn qa_search chunks that ask about a passage
_PASSAGE_MIN_CHARS = 250
_SYSTEM_SHARE = 0.06  # single-turn records that start with a system prompt
_TERSE_QA_SHARE = 0.5  # short qa_search answers that stop after the first piece
_BARE_ANSWER_SHARE = 0.5  # qa_search answers that open with the bare fact rather than a sentence
_PARAGRAPH_BREAK_SHARE = 0.25  # longform answers start a new paragraph this often
_HISTORY_BINS = ("short", "short", "medium")  # the first, never-targeted assistant turn of a dialogue
_MAX_PIECES = 300
_SEPARATOR = {"en": " ", "zh": ""}  # between sentences
_SLOT = re.compile(r"\{(\w+)\}")

_EN_NAMES = ("Mara", "Tobin", "Elsie", "Ravi", "Noor", "Felix", "Ines", "Oskar", "Priya", "Dalia", "Jonah")
_EN_SURNAMES = ("Ellison", "Hart", "Okafor", "Lindqvist", "Varga", "Moreau", "Castell", "Brandt", "Quill")

_LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "person": tuple(f"{n} {s}" for n in _EN_NAMES for s in _EN_SURNAMES),
        "place": ("Harlow", "Bramford", "Eastmere", "Kestrel Point", "Sorrel Bay", "Lowick", "Ashby Cross"),
        "kind": (
            "Bridge",
            "Library",
            "Observatory",
            "Canal",
            "Museum",
            "Lighthouse",
            "Market Hall",
            "Clock Tower",
        ),
        "region": ("the northern hills", "the river valley", "the old harbour district", "the town centre"),
        "hobby": (
            "painting",
            "rock climbing",
            "baking bread",
            "birdwatching",
            "chess",
            "gardening",
            "running",
            "knitting",
            "learning guitar",
            "photography",
        ),
        "relative": ("sister", "brother", "roommate", "neighbour", "cousin", "dad", "mum"),
        "day": ("weekend", "Saturday", "morning", "evening", "summer"),
        "activity": (
            "hiking by the lake",
            "fixing my bike",
            "trying a new recipe",
            "watching old movies",
            "cleaning the garage",
            "walking the dog",
        ),
        "food": ("soup", "dumplings", "pancakes", "curry", "noodles", "roast vegetables"),
        "spot": (
            "the night market",
            "that little cafe downtown",
            "the botanical garden",
            "the coast",
            "the old bookshop",
        ),
        "feeling": ("tired", "excited", "a bit stressed", "pretty relaxed", "restless"),
        "task": (
            "preparing for a job interview",
            "organizing a small kitchen",
            "planning a weekend trip",
            "starting a vegetable garden",
            "writing a cover letter",
            "learning a new language",
            "setting up a home office",
            "running a team meeting",
        ),
        "detail": ("the budget", "the schedule", "the materials", "the main goal", "the last step"),
        "tool": ("a notebook", "a shared calendar", "a simple spreadsheet", "sticky notes", "a timer"),
        "header": (
            "Getting started",
            "Planning",
            "Preparation",
            "Doing the work",
            "Checking the result",
            "Next steps",
        ),
        "subject": (
            "bread",
            "sea ice",
            "a sourdough starter",
            "river water",
            "garden soil",
            "mountain snow",
            "a cast iron pan",
        ),
        "process": (
            "moisture moves from one place to another",
            "heat spreads through the material",
            "small sugar molecules break down",
            "pressure slowly builds up",
            "tiny air pockets expand",
            "minerals dissolve and settle again",
        ),
        "condition": (
            "the temperature drops",
            "the air is very dry",
            "it is left alone for a few days",
            "the surface is exposed to sunlight",
            "it is stirred regularly",
        ),
        "factor": (
            "temperature",
            "humidity",
            "time",
            "pressure",
            "the amount of salt",
            "the size of the container",
        ),
        "effect": (
            "speeds the whole process up",
            "slows everything down",
            "changes the texture",
            "makes the result less predictable",
            "keeps the structure stable",
        ),
        "n": tuple(str(i) for i in range(2, 10)),
        "minutes": ("10", "15", "20", "30", "45"),
        "days": ("2", "3", "5", "7", "10"),
        "time": ("7 pm", "7:30 pm", "8 pm", "noon", "6:45 pm", "9 am", "11:15 am"),
        "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        "room": ("single room", "double room", "family suite", "twin room"),
        "venue": (
            "the Riverside Hotel",
            "Lantern Bistro",
            "Copperleaf Spa",
            "the Old Mill Guesthouse",
            "Harbour Bikes",
        ),
        "price": tuple(str(p) for p in range(18, 420, 13)),
        "street": ("Maple Street", "Quarry Lane", "Station Road", "Elm Avenue", "Harbour Walk"),
        "num": tuple(str(i) for i in range(3, 240, 7)),
        "code": tuple(f"{c}{d}" for c in ("AH", "KT", "RM", "ZP") for d in ("2041", "3387", "5120", "7764")),
    },
    "zh": {
        "person": (
            "林晓",
            "陈思远",
            "王雨桐",
            "赵一鸣",
            "周可欣",
            "刘子豪",
            "孙悦",
            "何静",
            "郑博文",
            "许安然",
        ),
        "place": ("青石镇", "云溪县", "白鹭湾", "松岭村", "南湖镇", "梧桐镇", "枫林镇"),
        "kind": ("大桥", "图书馆", "天文台", "运河", "博物馆", "灯塔", "集市大厅", "钟楼"),
        "region": ("北部山区", "河谷地带", "老港区", "镇中心"),
        "hobby": ("画画", "攀岩", "烤面包", "观鸟", "下棋", "种菜", "跑步", "织毛衣", "弹吉他", "摄影"),
        "relative": ("姐姐", "哥哥", "室友", "邻居", "表妹", "爸爸", "妈妈"),
        "day": ("周末", "周六", "暑假", "假期"),
        "activity": ("去湖边散步", "修了自行车", "试了一道新菜", "看了几部老电影", "收拾了车库", "去遛狗"),
        "food": ("汤面", "饺子", "煎饼", "咖喱", "火锅", "烤红薯"),
        "spot": ("夜市", "市中心那家小咖啡馆", "植物园", "海边", "老书店"),
        "feeling": ("有点累", "特别兴奋", "有点烦", "挺放松的", "坐立不安"),
        "task": (
            "准备求职面试",
            "整理小厨房",
            "计划周末短途旅行",
            "开辟一块小菜园",
            "写求职信",
            "学一门新语言",
            "布置家庭办公室",
            "主持团队会议",
        ),
        "detail": ("预算", "时间安排", "所需材料", "主要目标", "最后一步"),
        "tool": ("笔记本", "共享日历", "简单的表格", "便利贴", "计时器"),
        "header": ("准备工作", "制定计划", "具体执行", "检查结果", "下一步"),
        "subject": ("面包", "海冰", "酸面团", "河水", "菜园里的土壤", "山上的积雪", "铸铁锅"),
        "process": (
            "水分会从一处慢慢移到另一处",
            "热量会在材料内部扩散",
            "小分子的糖会逐渐分解",
            "压力会慢慢积累",
            "细小的气泡会膨胀",
            "矿物质会溶解后再沉积",
        ),
        "condition": ("气温下降", "空气非常干燥", "放置几天不管", "表面受到阳光照射", "经常搅拌"),
        "factor": ("温度", "湿度", "时间", "压力", "盐的用量", "容器的大小"),
        "effect": ("会让整个过程加快", "会让变化变慢", "会改变质地", "会让结果更难预测", "能让结构保持稳定"),
        "n": tuple(str(i) for i in range(2, 10)),
        "minutes": ("10", "15", "20", "30", "45"),
        "days": ("2", "3", "5", "7", "10"),
        "time": ("晚上7点", "晚上7点半", "晚上8点", "中午12点", "下午6点45分", "上午9点", "上午11点15分"),
        "weekday": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
        "room": ("单人间", "双人间", "家庭套房", "标准间"),
        "venue": ("江畔酒店", "灯笼小馆", "铜叶水疗中心", "老磨坊民宿", "港湾自行车租赁点"),
        "price": tuple(str(p) for p in range(58, 1800, 37)),
        "street": ("枫树路", "采石巷", "车站路", "榆树大道", "海港步行街"),
        "num": tuple(str(i) for i in range(3, 240, 7)),
        "code": tuple(str(c) for c in range(580213, 999999, 40487)),
    },
}

_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "system": (
            "You are a helpful assistant.",
            "You are a friendly assistant. Answer clearly and politely.",
            "Keep your answers accurate and concise.",
        ),
        "open_chat.prompt": (
            "Hey! I just started {hobby}. Have you ever tried it?",
            "What did you get up to last {day}?",
            "I'm feeling {feeling} today, can we just chat for a bit?",
            "Do you like {food}? I could eat it every day!",
            "My {relative} keeps telling me to try {hobby}. Should I?",
            "Guess what, I finally went to {spot} yesterday!",
            "Honestly, what's your favourite way to spend a {day}?",
        ),
        "open_chat.followup": (
            "Haha, same here! What else do you like doing?",
            "Really? Tell me more!",
            "I tried {activity} yesterday and it was actually fun.",
            "What about you, any plans for the {day}?",
            "Oh no, that sounds rough. Are you okay?",
            "That reminds me of my {relative}, ha!",
            "Wait, have you ever been to {spot}?",
        ),
        "open_chat.reply": (
            "Oh nice, I love {hobby} too!",
            "Honestly, I've been meaning to try {hobby} for ages.",
            "What got you into {hobby} in the first place?",
            "Haha, that sounds exactly like my {relative}!",
            "I spent last {day} {activity} and it was great.",
            "Did you end up {activity} after all?",
            "That's so cool!",
            "I'm not sure, but I think you'd really enjoy {spot}.",
            "You should totally go for it!",
            "My {relative} says {food} is the best thing to cook when it rains.",
            "Wait, really? I had no idea!",
            "How was your {day}, by the way?",
            "I'm a bit {feeling} myself, so I get it.",
            "We should go to {spot} together sometime!",
            "Do you usually go with friends or on your own?",
            "I think {n} hours of {hobby} a week is plenty, don't you?",
        ),
        "assistant_like.prompt": (
            "Write a short checklist for {task}.",
            "Give me some practical tips on {task}.",
            "Can you explain, step by step, how to approach {task}?",
            "Draft a short note to my {relative} about {task}.",
            "List the main steps for {task}, please.",
            "Help me make a plan for {task} in {n} days.",
        ),
        "assistant_like.followup": (
            "Can you make it shorter?",
            "Great, now add a section about {detail}.",
            "Could you turn that into a numbered list?",
            "What should I do first if I only have {minutes} minutes a day?",
            "Please rewrite it in a friendlier tone.",
            "Thanks. What tools would help with {task}?",
        ),
        "assistant_like.intro_plain": (
            "Sure. Here is a simple way to approach {task}.",
            "Of course! The key to {task} is to keep things simple.",
            "Happy to help with {task}.",
            "Good question. Most people find {task} easier with a clear plan.",
        ),
        "assistant_like.intro_list": (
            "Sure! Here are the main steps for {task}:",
            "Here is a short checklist for {task}:",
            "Of course. Follow these steps:",
            "Below is a plan you can adapt:",
        ),
        "assistant_like.step": (
            "Set a clear goal before you start.",
            "Write down everything you need, including {detail}.",
            "Block out {minutes} minutes on your calendar.",
            "Ask a friend to review {detail}.",
            "Keep notes in {tool} so you can track your progress.",
            "Start small and build up gradually.",
            "Review the result and adjust where needed.",
            "Double-check {detail} before you finish.",
            "Remove anything you do not actually use.",
            "Prepare a backup option in case plans change.",
            "Spend {minutes} minutes each day on the hardest part.",
            "Use {tool} to keep the steps in order.",
        ),
        "assistant_like.reply": (
            "First, decide what a good result looks like for you.",
            "It helps to write down {detail} early, so nothing surprises you later.",
            "Next, break the work into steps that take no more than {minutes} minutes each.",
            "Keep everything in {tool}, which makes it easy to see what is left.",
            "If something takes longer than expected, adjust the plan instead of rushing.",
            "Finally, review {detail} and note what you would do differently next time.",
            "Remember that small, regular progress beats one long session.",
            "You can repeat this cycle every {n} days until the routine feels natural.",
        ),
        "longform_qa.prompt": (
            "Why does {subject} change when {condition}?",
            "Can you explain in detail how {factor} affects {subject}?",
            "What actually happens to {subject} over time?",
            "I've always wondered: how does {subject} behave when {condition}?",
            "Could you give me a thorough explanation of why {process}?",
        ),
        "longform_qa.followup": (
            "Interesting. So what role does {factor} play?",
            "Can you give me a concrete example?",
            "Why does that matter in everyday life?",
            "Is that also true when {condition}?",
            "How would you explain that to a child?",
        ),
        "longform_qa.reply": (
            "The short answer is that {process} when {condition}.",
            "To understand {subject}, it helps to look at {factor} first.",
            "In simple terms, {factor} {effect}.",
            "This is why {subject} behaves differently from one day to the next.",
            "Another important factor is {factor}, which often {effect}.",
            "For example, if {condition}, {process} much more quickly.",
            "As a result, small changes in {factor} can have a large effect on {subject}.",
            "Scientists usually describe this as a balance between {factor} and {factor}.",
            "It can help to think of {subject} as a system that is always trying to reach balance.",
            "Over a longer period, {process}, and the changes add up.",
            "That said, the details depend on {factor} and on how {subject} was prepared.",
            "In practice, most people notice this only when {condition}.",
        ),
        "qa_search.followup": ("Thanks. ", "Okay. ", "Got it. "),
        "qa_search.reply": (
            "The {entity} is one of the best-known landmarks in {place}.",
            "Before it opened, people in {place} had to travel much further for the same purpose.",
            "Local records describe the project as ambitious for a town of that size.",
            "The building has been restored {n} times since it first opened.",
            "A small exhibition near the entrance tells the story of its construction.",
            "Guided tours run every {weekday}, starting at {time}.",
            "Many visitors come from {region} and the surrounding villages.",
            "Its design was later copied by several towns along the coast.",
        ),
        "qa_search.passage_intro": ("The {entity} is a well-known landmark in {place}.",),
        "qa_search.passage_filler": (
            "Local schools often organise trips there, and a small shop near the entrance sells maps.",
            "On quiet mornings, the area around it is popular with walkers and photographers.",
            "The town council publishes a short guide about its history every spring.",
            "A shaded path leads from the main entrance down to the river.",
            "During holidays, small markets and concerts are held nearby.",
        ),
        "task_dialogue.prompt": (
            "Hi, I'd like to book a table for {n} at {venue} on {weekday} at {time}.",
            "Hello, do you have a {room} available for {days} nights from {weekday}?",
            "Hi, my order {code} hasn't arrived yet. Can you check it?",
            "Can I change my reservation at {venue} to {time}?",
            "How much does it cost to rent a bike for {days} days?",
            "Is there parking near {venue}?",
        ),
        "task_dialogue.followup": (
            "Great, and how much will that be?",
            "Could you move it to {time} instead?",
            "What's the address again?",
            "Is breakfast included?",
            "Can I pay by card when I arrive?",
            "Perfect. Can you send me a confirmation?",
            "Actually, can you add one more person?",
        ),
        "task_dialogue.reply": (
            "Sure, I've booked a table for {n} on {weekday} at {time}.",
            "The total comes to ${price}, taxes included.",
            "Your confirmation number is {code}.",
            "We're at {num} {street}, right next to the bus stop.",
            "Check-in starts at {time}, and check-out is by 11 am.",
            "Would you like to add breakfast for ${price} per person?",
            "A {room} costs ${price} per night for {days} nights.",
            "Your refund of ${price} should arrive within {days} business days.",
            "I've moved your reservation to {time} on {weekday}.",
            "Parking is available on {street} for ${price} a day.",
            "Is there anything else I can help you with?",
            "You can pay by card or cash at the front desk.",
            "Sorry for the delay; the courier expects to deliver it by {time} on {weekday}.",
        ),
    },
    "zh": {
        "system": (
            "你是一个乐于助人的助手。",
            "你是一个友好的助手，请清楚、礼貌地回答。",
            "回答要准确、简洁。",
        ),
        "open_chat.prompt": (
            "嗨！我最近开始学{hobby}了，你试过吗？",
            "上个{day}你都干什么了？",
            "我今天{feeling}，能陪我聊聊天吗？",
            "你喜欢吃{food}吗？我简直可以天天吃！",
            "我{relative}一直劝我试试{hobby}，你觉得呢？",
            "你猜怎么着，我昨天终于去了{spot}！",
            "说真的，你最喜欢怎么过{day}？",
        ),
        "open_chat.followup": (
            "哈哈，我也是！你还喜欢做什么？",
            "真的吗？快多说点！",
            "我昨天{activity}，其实还挺好玩的。",
            "那你呢，{day}有什么安排？",
            "啊，听起来好累，你还好吗？",
            "这让我想起我{relative}，哈哈！",
            "等等，你去过{spot}吗？",
        ),
        "open_chat.reply": (
            "哇，我也超喜欢{hobby}！",
            "说实话，我一直想试试{hobby}。",
            "你当初是怎么开始{hobby}的呀？",
            "哈哈，这听起来跟我{relative}一模一样！",
            "上个{day}我{activity}，特别开心。",
            "那你最后去没去呀？",
            "太酷了吧！",
            "我也说不准，不过我觉得你会喜欢{spot}的。",
            "你一定要试试！",
            "我{relative}说下雨天最适合吃{food}。",
            "真的假的？我完全不知道！",
            "对了，你这个{day}过得怎么样？",
            "我自己最近也{feeling}，所以特别理解你。",
            "改天我们一起去{spot}吧！",
            "你一般是跟朋友一起，还是自己一个人？",
            "我觉得一周花{n}个小时在{hobby}上就够了，对吧？",
        ),
        "assistant_like.prompt": (
            "帮我写一份关于{task}的简短清单。",
            "关于{task}，给我一些实用的建议。",
            "你能一步一步地讲讲怎么{task}吗？",
            "帮我给{relative}写一段话，说说{task}的安排。",
            "请列出{task}的主要步骤。",
            "帮我做一个{n}天内完成{task}的计划。",
        ),
        "assistant_like.followup": (
            "能写得再简短一点吗？",
            "很好，再加一部分关于{detail}的内容。",
            "能把它改成编号列表吗？",
            "如果我每天只有{minutes}分钟，应该先做什么？",
            "请换一种更亲切的语气重写。",
            "谢谢。有什么工具能帮助我{task}？",
        ),
        "assistant_like.intro_plain": (
            "关于{task}，可以这样入手。",
            "当然可以！{task}的关键是保持简单。",
            "很乐意帮你{task}。",
            "好问题。有了清晰的计划，{task}会容易很多。",
        ),
        "assistant_like.intro_list": (
            "好的！以下是{task}的主要步骤：",
            "这是一份{task}的简短清单：",
            "当然可以，请按以下步骤进行：",
            "下面是一个可以灵活调整的计划：",
        ),
        "assistant_like.step": (
            "开始之前先定一个明确的目标。",
            "把需要的东西都写下来，包括{detail}。",
            "在日历上留出{minutes}分钟。",
            "请朋友帮你看看{detail}。",
            "用{tool}记录进度。",
            "从小处着手，逐步推进。",
            "检查结果，必要时进行调整。",
            "结束前再核对一遍{detail}。",
            "去掉实际用不上的东西。",
            "准备一个备选方案，以防计划有变。",
            "每天花{minutes}分钟处理最难的部分。",
            "用{tool}把步骤按顺序排好。",
        ),
        "assistant_like.reply": (
            "首先，想清楚什么样的结果才算好。",
            "尽早把{detail}写下来，后面就不会手忙脚乱。",
            "接着，把工作拆成每步不超过{minutes}分钟的小任务。",
            "把所有内容放在{tool}里，剩下什么一目了然。",
            "如果某一步比预期慢，就调整计划，不要硬赶。",
            "最后，回顾{detail}，记下下次可以改进的地方。",
            "记住，少量而持续的进步胜过一次长时间的突击。",
            "你可以每隔{n}天重复一次，直到养成习惯。",
        ),
        "longform_qa.prompt": (
            "为什么{condition}的时候，{subject}会发生变化？",
            "能详细解释一下{factor}是怎样影响{subject}的吗？",
            "随着时间推移，{subject}到底会发生什么？",
            "我一直很好奇：{condition}时{subject}会怎样？",
            "能不能透彻地讲讲，为什么{process}？",
        ),
        "longform_qa.followup": (
            "有意思。那{factor}起什么作用呢？",
            "能举个具体的例子吗？",
            "这在日常生活中为什么重要？",
            "如果{condition}，也是这样吗？",
            "你会怎么跟小孩子解释这个？",
        ),
        "longform_qa.reply": (
            "简单来说，{condition}时，{process}。",
            "要理解{subject}，最好先看看{factor}。",
            "通俗地讲，{factor}{effect}。",
            "这就是为什么{subject}每天的表现都不太一样。",
            "另一个重要因素是{factor}，它往往{effect}。",
            "比如，如果{condition}，{process}，而且速度会快很多。",
            "因此，{factor}的微小变化也可能对{subject}产生很大影响。",
            "科学家通常把这看作{factor}和{factor}之间的平衡。",
            "可以把{subject}想象成一个一直在寻求平衡的系统。",
            "时间一长，{process}，这些变化就会累积起来。",
            "当然，具体情况还取决于{factor}，以及{subject}是怎样处理的。",
            "实际上，大多数人只有在{condition}时才会注意到这一点。",
        ),
        "qa_search.followup": ("谢谢。", "好的。", "明白了。"),
        "qa_search.reply": (
            "{entity}是{place}最有名的地标之一。",
            "在它建成之前，{place}的居民要走很远的路才能办同样的事。",
            "当时的地方记录称，对于这样规模的小镇来说，这个工程相当有雄心。",
            "自开放以来，它已经修缮过{n}次。",
            "入口附近有一个小展览，介绍了它的建造过程。",
            "每{weekday}都有导览，{time}开始。",
            "很多游客来自{region}和周边的村子。",
            "后来，沿海好几个镇都仿照了它的设计。",
        ),
        "qa_search.passage_intro": ("{entity}是{place}一处知名的地标，也是当地人最常提起的地方之一。",),
        "qa_search.passage_filler": (
            "当地学校经常组织学生去参观，入口旁边的小店出售地图、明信片和一些手工纪念品。",
            "清晨时分，周围一带很安静，很受散步的人和摄影爱好者的欢迎，常常有人在那里拍日出。",
            "镇政府每年春天都会出版一本介绍它历史的小册子，免费放在游客中心供大家取阅。",
            "从正门出发，有一条种满梧桐树的林荫小路，可以一直走到河边的老码头。",
            "每逢节假日，附近都会举办小型的市集和露天音乐会，吸引了不少外地游客。",
            "周围还保留着几座老房子，墙上挂着说明牌，讲述了当年镇上居民的生活。",
        ),
        "task_dialogue.prompt": (
            "你好，我想订{weekday}{time}在{venue}的{n}人桌。",
            "你好，{weekday}开始有{room}吗？想住{days}晚。",
            "你好，我的订单{code}还没到，能帮我查一下吗？",
            "我在{venue}的预约能改到{time}吗？",
            "租一辆自行车{days}天要多少钱？",
            "{venue}附近有停车场吗？",
        ),
        "task_dialogue.followup": (
            "好的，那一共多少钱？",
            "能改到{time}吗？",
            "地址是哪里来着？",
            "含早餐吗？",
            "到店可以刷卡吗？",
            "太好了，能发个确认给我吗？",
            "不好意思，能再加一个人吗？",
        ),
        "task_dialogue.reply": (
            "好的，已经为您预订了{weekday}{time}的{n}人桌。",
            "总共{price}元，已含税。",
            "您的确认号是{code}。",
            "我们在{street}{num}号，就在公交站旁边。",
            "入住时间从下午2点开始，退房时间是上午11点前。",
            "需要加早餐吗？每位{price}元。",
            "{room}每晚{price}元，共{days}晚。",
            "您的{price}元退款会在{days}个工作日内到账。",
            "已经把您的预约改到{weekday}{time}。",
            "{street}上可以停车，每天{price}元。",
            "请问还有什么可以帮您的吗？",
            "到店时可以在前台刷卡或付现金。",
            "抱歉让您久等了，快递预计{weekday}{time}前送到。",
        ),
    },
}

# qa_search facts: attribute -> (questions, bare answers, answer sentences); sentences also build passages.
_QA: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    "en": {
        "year": (
            ("When was the {entity} completed?", "In what year did the {entity} open?"),
            ("{year}.", "In {year}."),
            ("The {entity} was completed in {year}.", "It opened to the public in {year}."),
        ),
        "designer": (
            ("Who designed the {entity}?",),
            ("{person}.", "The engineer {person}."),
            ("It was designed by the engineer {person}.", "The plans for it were drawn up by {person}."),
        ),
        "visitors": (
            ("How many visitors does the {entity} get each year?",),
            ("About {visitors}.", "Roughly {visitors} a year."),
            ("It receives roughly {visitors} visitors every year.",),
        ),
        "size": (
            ("How long is the {entity}?", "How big is the {entity}?"),
            ("{size} metres.", "About {size} metres."),
            ("Its main structure measures {size} metres from end to end.",),
        ),
        "region": (
            ("Where in {place} is the {entity}?",),
            ("In {region}.",),
            ("It stands in {region} of {place}.",),
        ),
        "cost": (
            ("How much did the {entity} cost to build?",),
            ("{cost} million dollars.", "About {cost} million dollars."),
            ("Building it cost about {cost} million dollars at the time.",),
        ),
    },
    "zh": {
        "year": (
            ("{entity}是哪一年建成的？", "{entity}是哪一年开放的？"),
            ("{year}年。", "{year}年建成。"),
            ("{entity}于{year}年正式建成并对外开放。", "它在{year}年向公众开放。"),
        ),
        "designer": (
            ("{entity}是谁设计的？",),
            ("{person}。", "工程师{person}。"),
            ("它由工程师{person}主持设计。", "它的设计图纸出自{person}之手。"),
        ),
        "visitors": (
            ("{entity}每年接待多少游客？",),
            ("大约{visitors}人次。", "每年约{visitors}人次。"),
            ("它每年接待大约{visitors}人次的游客。",),
        ),
        "size": (
            ("{entity}有多长？", "{entity}有多大？"),
            ("{size}米。", "大约{size}米。"),
            ("它的主体结构从头到尾长约{size}米。",),
        ),
        "region": (
            ("{entity}位于{place}的什么地方？",),
            ("{region}。", "在{region}。"),
            ("它坐落在{place}的{region}。",),
        ),
        "cost": (
            ("修建{entity}花了多少钱？",),
            ("{cost}00万元。", "大约{cost}00万元。"),
            ("按当时的价格，建造费用约为{cost}00万元。",),
        ),
    },
}
_ATTRIBUTES = tuple(_QA["en"])
# The slot fixed for a whole record or dialogue, so the answer talks about what the prompt asked.
_TOPIC_SLOTS = {
    "open_chat": ("hobby",),
    "assistant_like": ("task",),
    "longform_qa": ("subject",),
    "task_dialogue": ("venue", "n"),
}

Context = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Draft:
    """A record before it gets its id: ids are numbered per language once all records exist."""

    messages: tuple[Message, ...]
    meta: dict[str, Any]


def make_fixture_corpus(seed: int = 0) -> list[Record]:
    """The synthetic corpus for `seed`: every bucket filled, a few sparse, plus planted duplicates."""
    rng = random.Random(seed)
    sizes = _bucket_sizes(rng)
    seen: set[tuple[Message, ...]] = set()
    records: list[Record] = []
    for language in LANGUAGES:
        drafts: list[tuple[str, str, _Draft]] = []
        for track, family in itertools.product(TRACKS, FAMILIES):
            bins = [b for b in LENGTH_BINS for _ in range(sizes[(language, track, family, b)])]
            rng.shuffle(bins)
            drafts += [(track, family, d) for d in _cell_drafts(rng, language, track, family, bins, seen)]
        records += [_record(language, track, family, d, i) for i, (track, family, d) in enumerate(drafts)]
    return records + _planted_duplicates(rng, records)


def write_fixture_corpus(path: Path, seed: int = 0) -> int:
    """Write `make_fixture_corpus(seed)` as JSONL; returns the record count."""
    return write_jsonl(path, make_fixture_corpus(seed))


def _bucket_sizes(rng: random.Random) -> dict[tuple[str, str, str, str], int]:
    buckets = list(itertools.product(LANGUAGES, TRACKS, FAMILIES, LENGTH_BINS))
    sparse = set(rng.sample(buckets, rng.randint(*_N_SPARSE)))
    return {b: rng.randint(*(_SPARSE_SIZE if b in sparse else _DENSE_SIZE)) for b in buckets}


def _cell_drafts(
    rng: random.Random,
    language: str,
    track: str,
    family: str,
    bins: list[str],
    seen: set[tuple[Message, ...]],
) -> list[_Draft]:
    """Cut the cell's target bins into chunks (a dialogue, a passage, or one record) and write each chunk."""
    source = _source(language, family)
    drafts: list[_Draft] = []
    start = n = 0
    while start < len(bins):
        make: Callable[[list[str]], list[_Draft]]
        if track == "multi":
            size = rng.randint(1, _MAX_TARGETS_PER_DIALOGUE)
            make = partial(_dialogue, rng, language, family, dialogue_id=f"{source}:dialogue{n:04d}")
        elif family == "qa_search" and rng.random() < _PASSAGE_SHARE:
            size = rng.randint(2, _MAX_QUESTIONS_PER_PASSAGE)
            make = partial(_passage_questions, rng, language, passage_id=f"{source}:passage{n:04d}")
        else:
            size = 1
            make = partial(_single, rng, language, family)
        drafts += _unique(make, bins[start : start + size], seen)
        start += size
        n += 1
    return drafts


def _unique(
    make: Callable[[list[str]], list[_Draft]], chunk: list[str], seen: set[tuple[Message, ...]]
) -> list[_Draft]:
    """Redraw a chunk whose conversation already exists, so the only exact duplicates are the planted ones."""
    while True:
        drafts = make(chunk)
        keys = [d.messages for d in drafts]
        if not seen.intersection(keys):
            seen.update(keys)
            return drafts


def _single(rng: random.Random, language: str, family: str, bins: list[str]) -> list[_Draft]:
    """One single-turn record (a few open with a system prompt); `bins` holds its one target bin."""
    (bin_name,) = bins
    ctx = {**_topic(rng, language, family), "attribute": rng.choice(_ATTRIBUTES)}
    messages = [Message("user", _user_turn(rng, language, family, ctx, first=True))]
    if rng.random() < _SYSTEM_SHARE:
        messages.insert(0, Message("system", rng.choice(_TEMPLATES[language]["system"])))
    messages.append(Message("assistant", _response(rng, language, family, ctx, bin_name)))
    return [_Draft(tuple(messages), {"intended_length_bin": bin_name})]


def _passage_questions(rng: random.Random, language: str, bins: list[str], passage_id: str) -> list[_Draft]:
    """Several single-turn questions on one passage: user = passage, blank line, question."""
    facts = _fact_sheet(rng, language)
    passage = _passage(rng, language, facts)
    drafts = []
    for bin_name, attribute in zip(bins, rng.sample(_ATTRIBUTES, len(bins)), strict=True):
        ctx = {**facts, "attribute": attribute}
        question = _user_turn(rng, language, "qa_search", ctx, first=True)
        messages = (
            Message("user", f"{passage}\n\n{question}"),
            Message("assistant", _response(rng, language, "qa_search", ctx, bin_name)),
        )
        meta = {"intended_length_bin": bin_name, "has_context": True, "passage": passage_id}
        drafts.append(_Draft(messages, meta))
    return drafts


def _dialogue(
    rng: random.Random, language: str, family: str, bins: list[str], dialogue_id: str
) -> list[_Draft]:
    """One dialogue cut into a record per assistant turn from the second on; each keeps only earlier turns."""
    topic = _topic(rng, language, family)
    turn_bins = [rng.choice(_HISTORY_BINS), *bins]
    attributes = rng.sample(_ATTRIBUTES, len(turn_bins))  # qa_search asks about a new fact each turn
    messages: list[Message] = []
    drafts = []
    for turn, (bin_name, attribute) in enumerate(zip(turn_bins, attributes, strict=True)):
        ctx = {**topic, "attribute": attribute}
        messages.append(Message("user", _user_turn(rng, language, family, ctx, first=turn == 0)))
        messages.append(Message("assistant", _response(rng, language, family, ctx, bin_name)))
        if turn > 0:
            drafts.append(_Draft(tuple(messages), {"intended_length_bin": bin_name, "dialogue": dialogue_id}))
    return drafts


def _topic(rng: random.Random, language: str, family: str) -> dict[str, str]:
    if family == "qa_search":
        return _fact_sheet(rng, language)
    return {slot: rng.choice(_LEXICON[language][slot]) for slot in _TOPIC_SLOTS[family]}


def _fact_sheet(rng: random.Random, language: str) -> dict[str, str]:
    """An invented landmark and its facts, so questions, passages and answers agree with each other."""
    lexicon = _LEXICON[language]
    place, kind = rng.choice(lexicon["place"]), rng.choice(lexicon["kind"])
    visitors = rng.randint(120, 9500) * 10
    return {
        "place": place,
        "entity": f"{place} {kind}" if language == "en" else f"{place}{kind}",
        "person": rng.choice(lexicon["person"]),
        "region": rng.choice(lexicon["region"]),
        "year": str(rng.randint(1850, 2012)),
        "visitors": f"{visitors:,}" if language == "en" else str(visitors),
        "size": str(rng.randint(18, 480)),
        "cost": str(rng.randint(2, 90)),
    }


def _passage(rng: random.Random, language: str, facts: Context) -> str:
    """Every fact as a sentence, mixed with filler until the passage is long enough to read like one."""
    templates = _TEMPLATES[language]
    body = [_fill(rng, language, rng.choice(_QA[language][a][2]), facts) for a in _ATTRIBUTES]
    fillers = list(templates["qa_search.passage_filler"])
    rng.shuffle(fillers)
    sep = _SEPARATOR[language]
    while fillers and len(sep.join(body)) < _PASSAGE_MIN_CHARS:
        body.append(_fill(rng, language, fillers.pop(), facts))
    rng.shuffle(body)
    return sep.join([_fill(rng, language, templates["qa_search.passage_intro"][0], facts), *body])


def _user_turn(rng: random.Random, language: str, family: str, ctx: Context, *, first: bool) -> str:
    templates = _TEMPLATES[language]
    if family == "qa_search":
        question = _fill(rng, language, rng.choice(_QA[language][ctx["attribute"]][0]), ctx)
        return question if first else rng.choice(templates["qa_search.followup"]) + question
    key = f"{family}.prompt" if first else f"{family}.followup"
    return _fill(rng, language, rng.choice(templates[key]), ctx)


def _response(rng: random.Random, language: str, family: str, ctx: Context, bin_name: str) -> str:
    """A reply in the family's style whose length falls inside `bin_name` (checked with `length_units`)."""
    low, high = BIN_RANGES[bin_name]
    terse = family == "qa_search" and bin_name == "short" and rng.random() < _TERSE_QA_SHARE
    target = low if terse else rng.randint(low, high)
    if family == "assistant_like":
        pieces = _assistant_pieces(rng, language, ctx)
    elif family == "qa_search":
        pieces = _qa_pieces(rng, language, ctx)
    else:
        pieces = _prose_pieces(rng, language, ctx, f"{family}.reply", paragraphs=family == "longform_qa")
    return _grow(pieces, low, high, target)


def _grow(pieces: Iterator[str], low: int, high: int, target: int) -> str:
    """Append pieces until the unit count reaches `target`; a piece that would pass `high` is skipped.

    Pieces carry their own leading separator (space, newline, bullet), so units add up piece by piece;
    the joined text is measured once more at the end to be sure.
    """
    parts: list[str] = []
    units = 0
    for piece in itertools.islice(pieces, _MAX_PIECES):
        n = length_units(piece)
        if units + n > high:
            if units >= low:
                break
            continue
        parts.append(piece)
        units += n
        if units >= target:
            break
    text = "".join(parts).strip()
    measured = length_units(text)
    if not low <= measured <= high:
        raise RuntimeError(
            f"fixture templates cannot fill {low}..{high} units (got {measured}); add shorter pieces"
        )
    return text


def _prose_pieces(
    rng: random.Random, language: str, ctx: Context, key: str, *, paragraphs: bool
) -> Iterator[str]:
    sentences = _deck(rng, _TEMPLATES[language][key])
    yield _fill(rng, language, next(sentences), ctx)
    while True:
        joiner = "\n\n" if paragraphs and rng.random() < _PARAGRAPH_BREAK_SHARE else _SEPARATOR[language]
        yield joiner + _fill(rng, language, next(sentences), ctx)


def _assistant_pieces(rng: random.Random, language: str, ctx: Context) -> Iterator[str]:
    """Instruction-following replies: plain prose, a bullet list, a numbered list, or markdown sections."""
    templates = _TEMPLATES[language]
    style = rng.choice(("plain", "bullets", "numbered", "markdown"))
    listed = style in ("bullets", "numbered")
    intro = "assistant_like.intro_list" if listed else "assistant_like.intro_plain"
    yield _fill(rng, language, rng.choice(templates[intro]), ctx)
    lines = _deck(rng, templates["assistant_like.step" if listed else "assistant_like.reply"])
    for k in itertools.count(1):
        line = _fill(rng, language, next(lines), ctx)
        if style == "bullets":
            yield f"\n- {line}"
        elif style == "numbered":
            yield f"\n{k}. {line}"
        elif style == "markdown" and k % 3 == 1:
            yield f"\n\n## {rng.choice(_LEXICON[language]['header'])}\n{line}"
        else:
            yield _SEPARATOR[language] + line


def _qa_pieces(rng: random.Random, language: str, ctx: Context) -> Iterator[str]:
    """The fact first (bare, or as a sentence), then sentences on other facts and background."""
    sep = _SEPARATOR[language]
    _, bares, sentences = _QA[language][ctx["attribute"]]
    if rng.random() < _BARE_ANSWER_SHARE:
        yield _fill(rng, language, rng.choice(bares), ctx)
        yield sep + _fill(rng, language, rng.choice(sentences), ctx)
    else:
        yield _fill(rng, language, rng.choice(sentences), ctx)
    others = [s for a in _ATTRIBUTES if a != ctx["attribute"] for s in _QA[language][a][2]]
    background = _deck(rng, [*others, *_TEMPLATES[language]["qa_search.reply"]])
    while True:
        yield sep + _fill(rng, language, next(background), ctx)


def _deck(rng: random.Random, templates: Sequence[str]) -> Iterator[str]:
    """Templates in shuffled rounds, so a long answer repeats a sentence only after using all the others."""
    while True:
        order = list(templates)
        rng.shuffle(order)
        yield from order


def _fill(rng: random.Random, language: str, template: str, ctx: Context) -> str:
    """Fill `{slot}`s from the record's context, else with a fresh draw from the language's vocabulary."""
    lexicon = _LEXICON[language]
    return _SLOT.sub(lambda m: ctx.get(m.group(1)) or rng.choice(lexicon[m.group(1)]), template)


def _source(language: str, family: str) -> str:
    return f"fixture-{language}-{family}"


def _record(language: str, track: str, family: str, draft: _Draft, index: int) -> Record:
    return Record(
        id=f"fixture-{language}:{index:06d}",
        source=_source(language, family),
        language=language,
        track=track,
        family=family,
        messages=draft.messages,
        meta={"synthetic": True, **draft.meta},
    )


def _planted_duplicates(rng: random.Random, records: Sequence[Record]) -> list[Record]:
    """Exact copies of a few single-turn records under new ids, which dedup must find."""
    singles = [r for r in records if r.track == "single"]
    next_index = {language: sum(r.language == language for r in records) for language in LANGUAGES}
    copies = []
    for original in rng.sample(singles, rng.randint(*_N_DUPLICATES)):
        index = next_index[original.language]
        next_index[original.language] += 1
        copies.append(
            Record(
                id=f"fixture-{original.language}:{index:06d}",
                source=original.source,
                language=original.language,
                track=original.track,
                family=original.family,
                messages=original.messages,
                meta={**original.meta, "planted_duplicate_of": original.id},
            )
        )
    return copies
