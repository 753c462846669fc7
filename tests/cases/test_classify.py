"""Behaviour of the feedback classifier that case routing and the console depend on."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drivetrain.cases.classify import Aspect, Category, Severity, classify, classify_many
from drivetrain.cases.classify.features import Featurizer, text_clauses
from drivetrain.cases.classify.lexicon import alternation
from drivetrain.cases.classify.model import clause_summary
from drivetrain.cases.classify.polarity import FEATURE_NAMES, PolarityLexicon
from drivetrain.cases.classify.severity import assess_severity
from drivetrain.cases.classify.text import clauses, normalize_text
from drivetrain.cases.classify.training import BdciText, LabelledText, clause_targets, text_sentiment, train

SHARED_BDCI = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bdci2018_car_review_aspects.csv"
)


@pytest.mark.parametrize(
    "text",
    [
        "下坡的时候刹车失灵，踩到底都没有用",
        "车停在小区里自燃了",
        "高速上开着开着突然熄火了",
        "方向盘在高速上突然失灵",
        "撞车的时候安全气囊没有弹出",
        "行驶中发动机舱起火",
        "后桥断轴了，车直接趴窝",
    ],
)
def test_safety_words_are_critical(text: str) -> None:
    assert classify(text).severity is Severity.CRITICAL


@pytest.mark.parametrize(
    "text",
    ["电池没有起火，只是充电有点慢", "不会自燃吧？想了解一下电池安全", "在车库里怠速的时候熄火了"],
)
def test_negated_or_parked_safety_words_are_not_critical(text: str) -> None:
    assert classify(text).severity is not Severity.CRITICAL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("变速箱问题反复出现，我已经打了12315投诉", Severity.HIGH),
        ("修了三次还没修好，要求退车", Severity.HIGH),
        ("车机反应有点慢", Severity.NORMAL),
        ("请问首保需要提前预约吗？", Severity.LOW),
    ],
)
def test_severity_below_critical(text: str, expected: Severity) -> None:
    assert classify(text).severity is expected


def test_praise_is_low_severity() -> None:
    assert assess_severity("保养做得很细致，非常满意，谢谢", sentiment=1) is Severity.LOW


def test_traditional_and_full_width_input_is_normalised() -> None:
    assert normalize_text("  發動機　異響，ＡＢＳ燈亮了！ ") == "发动机 异响,ABS灯亮了!"
    result = classify("剎車失靈，差點撞到人")
    assert result.text == "刹车失灵,差点撞到人"
    assert result.severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("发动机烧机油，一千公里要补半升", Category.ENGINE),
        ("变速箱顿挫，一档升二档往前冲", Category.TRANSMISSION),
        ("方向盘跑偏，松手车就往右边走", Category.STEERING),
        ("刹车片磨损太快", Category.BRAKES),
        ("轮胎鼓包了", Category.TYRES_WHEELS),
        ("减震器漏油，过减速带咚咚响", Category.SUSPENSION),
        ("下雨天天窗漏水", Category.BODY_ELECTRICAL),
        ("冬天续航缩水一半，充电桩也经常充不进电", Category.BATTERY_CHARGING),
        ("车机死机，导航用不了", Category.INFOTAINMENT_SOFTWARE),
        ("自适应巡航经常误报", Category.ADAS),
        ("签合同时被捆绑买保险", Category.SALES_PROCESS),
        ("提车时发现漆面划痕", Category.DELIVERY),
        ("保养等了四个小时还没弄好", Category.AFTERSALES_SERVICE),
        ("上牌服务费收了三千", Category.PRICING_FEES),
        ("销售顾问态度恶劣", Category.STAFF_ATTITUDE),
        ("请问你们店的地址在哪里？", Category.OTHER),
    ],
)
def test_category_of_clear_sentences(text: str, expected: Category) -> None:
    assert classify(text).category is expected


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("这车太垃圾了，油耗高，动力差，后悔买了", -1),
        ("空间很大，坐着舒服，非常满意", 1),
        ("销售顾问态度恶劣，问几句就不耐烦", -1),
    ],
)
def test_sentiment_sign_of_clear_sentences(text: str, sign: int) -> None:
    assert classify(text).sentiment == sign


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("这车百公里油耗八个多，挺省油的", Aspect.FUEL_CONSUMPTION),
        ("2.0T的动力很足，超车很轻松", Aspect.POWER),
        ("落地价格二十万出头，优惠不少", Aspect.PRICE),
        ("后排空间很大，腿部还有两拳", Aspect.SPACE),
        ("内饰用料很一般，塑料感很强", Aspect.INTERIOR),
    ],
)
def test_aspects_of_clear_sentences(text: str, aspect: Aspect) -> None:
    assert aspect in classify(text).aspects


def test_every_answer_uses_the_allowed_vocabularies() -> None:
    texts = ["哈哈", "?", "123", "车", "这辆车还行吧", "Engine noise after 3000 km"]
    for result in classify_many(texts):
        assert result.category in set(Category)
        assert result.severity in set(Severity)
        assert result.sentiment in (-1, 0, 1)
        assert set(result.aspects) <= set(Aspect)


@pytest.mark.parametrize("texts", [[""], ["  \n "], ["刹车异响", ""]])
def test_empty_text_is_rejected(texts: list[str]) -> None:
    with pytest.raises(ValueError, match="empty"):
        classify_many(texts)


def test_empty_batch_is_empty() -> None:
    assert classify_many([]) == []


@pytest.mark.parametrize(
    ("values", "expected"), [([0, 0], 0), ([0, -1], -1), ([1, 1, -1], 1), ([1, -1], 0), ([0, 1], 1)]
)
def test_text_sentiment_lets_opinions_decide(values: list[int], expected: int) -> None:
    assert text_sentiment(values) == expected


def test_packaged_model_loads_without_shared_data(tmp_path: Path) -> None:
    """A user's clone has no ../shared: classify in a process that runs elsewhere."""
    code = "from drivetrain.cases.classify import classify; print(classify('车机死机').category)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "infotainment_software"


def test_train_writes_a_model_that_classifies(tmp_path: Path) -> None:
    if not SHARED_BDCI.is_file():
        pytest.skip("../shared/data not present (BDCI 2018 CSV is only in the project workspace)")
    sample = tmp_path / "bdci.csv"
    with SHARED_BDCI.open(encoding="utf-8", newline="") as source, sample.open("w", encoding="utf-8") as out:
        rows = list(csv.reader(source))[:1500]
        csv.writer(out).writerows(rows)
    correction = LabelledText(text="雨刮器刮不干净", sentiment=-1, category="body_electrical")
    report = train(sample, [correction], out_dir=tmp_path / "model")
    assert report.model_path.is_file()
    assert report.category_texts > 200

    from drivetrain.cases.classify import Classifier

    result = Classifier.from_directory(tmp_path / "model").classify("变速箱顿挫")
    assert result.category is Category.TRANSMISSION


def _toy_lexicon() -> PolarityLexicon:
    texts = ["动力很好", "油耗太高", "优惠一万", "优惠不错", "空间好"]
    opinions = [[("好", 1)], [("高", -1)], [], [("不错", 1)], [("好", 1)]]
    return PolarityLexicon.fit(texts, opinions)


@pytest.mark.parametrize(
    ("text", "leans"),
    [("空间好", 1), ("油耗高", -1), ("空间不好", -1), ("油耗不高", 1), ("优惠不错", 1)],
)
def test_polarity_lexicon_reads_negators(text: str, leans: int) -> None:
    named = dict(zip(FEATURE_NAMES, _toy_lexicon().features(text), strict=True))
    assert (named["positive"] > named["negative"]) == (leans > 0)
    assert (named["negated"] > 0) == ("不" in text and text != "优惠不错")


def test_polarity_lexicon_counts_the_clause_after_a_contrast() -> None:
    named = dict(zip(FEATURE_NAMES, _toy_lexicon().features("动力好,但是油耗高"), strict=True))
    assert named["after_contrast_negative"] > named["after_contrast_positive"]
    assert named["last_clause_negative"] > 0
    assert named["first_clause_positive"] > 0


def test_polarity_lexicon_survives_its_arrays() -> None:
    lexicon = _toy_lexicon()
    restored = PolarityLexicon.from_arrays(lexicon.to_arrays())
    assert restored.features("空间不好,油耗高?") == pytest.approx(lexicon.features("空间不好,油耗高?"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("动力不错,但是油耗高!", ["动力不错", "但是油耗高"]),
        ("空间大、坐着舒服~~后备箱…一般", ["空间大", "坐着舒服", "后备箱", "一般"]),
        ("还行", ["还行"]),
        ("?!", []),
    ],
)
def test_clauses_split_at_clause_punctuation(text: str, expected: list[str]) -> None:
    assert clauses(text) == expected


def test_a_text_without_clauses_is_its_own_clause() -> None:
    assert text_clauses("?!") == ["?!"]
    assert text_clauses("ABS灯亮了,吓人") == ["abs灯亮了", "吓人"]


@pytest.mark.parametrize(
    "texts",
    [
        ["动力不错,但是油耗高!", "?!", "好", "a,,b c", "ABS灯亮了。。吓人~~", "x,y,z", "油耗,高"],
        ["刹车异响", "", "车机死机,导航用不了,重启也没用"],
    ],
)
def test_text_and_clause_rows_hold_the_same_char_ngrams_as_scikit_learn(texts: list[str]) -> None:
    """Texts and clauses are counted in one pass; both must equal a plain char 1-3-gram TF."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vocabulary = sorted({g for t in ["动力不错,但是油耗高", "吓人~~abs灯", "x,y z"] for g in _grams(t)})
    reference = TfidfVectorizer(
        analyzer="char", ngram_range=(1, 3), vocabulary=vocabulary, sublinear_tf=True, use_idf=False
    )
    featurizer = Featurizer(
        char_vocabulary=vocabulary,
        char_idf=np.ones(len(vocabulary)),
        word_vocabulary=["油耗"],
        word_idf=np.ones(1),
        positive_words=[],
        negative_words=[],
    )
    rows = featurizer.rows(texts)
    pieces = [text_clauses(t) for t in texts]
    expected_texts = reference.fit_transform(texts).toarray()
    expected_clauses = reference.fit_transform([c for p in pieces for c in p]).toarray()
    assert rows.texts[:, : len(vocabulary)].toarray() == pytest.approx(expected_texts)
    assert rows.clauses.toarray() == pytest.approx(expected_clauses)
    assert rows.owners.tolist() == [i for i, p in enumerate(pieces) for _ in p]


def _grams(text: str) -> set[str]:
    return {text[i : i + n] for n in (1, 2, 3) for i in range(len(text) - n + 1)}


@pytest.mark.parametrize(
    ("words", "text", "found"),
    [
        (["好", "好看", "好用", "不好"], "不好看,好用,好", ["不好", "好用", "好"]),
        (["a.b", "c+"], "axb a.b c+", ["a.b", "c+"]),
        (["油耗", "油耗高", "高"], "油耗高,油耗低,很高", ["油耗高", "油耗", "高"]),
        ([], "任何文字", []),
    ],
)
def test_alternation_prefers_the_longest_word_where_several_start(
    words: list[str], text: str, found: list[str]
) -> None:
    assert [m.group() for m in alternation(words).finditer(text)] == found


def test_clause_summary_pools_each_texts_clauses() -> None:
    scores = np.array([[1.0, 0.0, -1.0], [3.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    summary = clause_summary(scores, np.array([0, 0, 1]), 2)
    assert summary[0].tolist() == [3.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 0.0, 1.0]  # max, mean, last
    assert summary[1].tolist() == [0.0, 2.0, 0.0] * 3


def _bdci(text: str, opinions: tuple[tuple[str, int], ...], polar_rows: int) -> BdciText:
    return BdciText(
        content_id="1", example=LabelledText(text=text), opinion_words=opinions, polar_rows=polar_rows
    )


@pytest.mark.parametrize(
    ("text", "opinions", "polar_rows", "expected"),
    [
        ("动力不错,但是油耗高", (("不错", 1), ("油耗高", -1)), 2, [1, -1]),
        ("外观好看,内饰一般", (("好看", 1),), 1, [1, 0]),
        ("外观好看,内饰一般", (("好看", 1),), 2, [1, None]),  # one opinion has no word: unplaced
        ("问下保养多少钱,谢谢", (("多少钱", 0),), 0, [0, 0]),
    ],
)
def test_clause_targets_follow_the_annotated_opinion_words(
    text: str, opinions: tuple[tuple[str, int], ...], polar_rows: int, expected: list[int | None]
) -> None:
    assert clause_targets(_bdci(text, opinions, polar_rows)) == expected
