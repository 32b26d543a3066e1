"""The Traditional-Chinese edition of the site is complete and consistent.

- Every message of every page (Sphinx's gettext extraction of the English sources, run here afresh)
  has a translation in docs/locales/zh_TW/LC_MESSAGES, none fuzzy, none obsolete, each keeping its
  English's inline markup (roles, literals, links) and code: a new English sentence cannot reach
  the site untranslated.
- The term list (docs/locales/zh_TW/terms.tsv) is one translation per term; the glossary gives every
  term in both languages; on every page the first use of a term carries its English name.
"""

from __future__ import annotations

import importlib.util
import pathlib
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("convops_i18n", ROOT / "scripts" / "i18n.py")
i18n = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(i18n)


@pytest.fixture(scope="module")
def templates():
    with tempfile.TemporaryDirectory() as tmp:
        return i18n.extract(pathlib.Path(tmp))


def test_every_page_is_translated(templates):
    found = i18n.problems(templates)
    assert not found, f"{len(found)} problems in the zh_TW catalogues:\n" + "\n".join(found[:60])


def test_the_extraction_reads_every_page_and_no_docstring(templates):
    pages = {p.relative_to(ROOT / "docs").with_suffix("").as_posix() for p in (ROOT / "docs").rglob("*.rst")}
    pages = {p for p in pages if not p.startswith(("_", "figures/"))}
    assert set(templates) == pages
    # The API reference's docstrings stay English (the package's own text), as does text a directive
    # generates from data (benchmark tables, a machine's name): neither is a message.
    ids = [m.id for t in templates.values() for m in t if m.id]
    assert not any("Parameters" == i or i.startswith("**Machine**") for i in ids)
    assert any(i.startswith("The API reference") or "API" in i for i in (m.id for m in templates["api"] if m.id))
    # An animation's caption is its directive's content (a plot's content is code): a message too.
    pooling = {m.id for m in templates["concepts/pooling"] if m.id}
    assert "Max pooling: each non-overlapping 2×2 block gives its largest value." in pooling


def test_term_list_is_one_translation_per_term():
    terms = i18n.read_terms()
    english = [e for e, _ in terms]
    chinese = [c for _, c in terms]
    assert len(set(english)) == len(english), "an English term twice in terms.tsv"
    assert len(set(chinese)) == len(chinese), "two English terms share one Chinese translation"
    # The tutorial's own words, where it has them (the list).
    tutorial = {
        "convolutional neural network": "卷積神經網路",
        "convolutional layer": "卷積層",
        "receptive field": "感受野",
        "parameter sharing": "參數共享",
        "feature map": "特徵圖",
        "channel": "通道",
        "response map": "響應圖",
        "border effect": "邊界效應",
        "padding": "填充",
        "stride": "步幅",
        "max pooling": "最大池化",
        "translation invariance": "平移不變性",
        "spatial hierarchy": "空間階層",
    }
    assert {e: c for e, c in terms if e in tutorial} == tutorial


def test_glossary_names_every_term_in_both_languages():
    """Each glossary term of the term list reads 中文（English） in the Chinese glossary."""
    catalog = i18n._read(i18n.CATALOGUES / "glossary.po")
    terms = dict(i18n.read_terms())
    checked = 0
    for message in catalog:
        if message.id in terms and message.id != terms[message.id]:
            assert message.string == f"{terms[message.id]}（{message.id}）", (
                f"glossary term {message.id!r}: {message.string!r}, expected {terms[message.id]}（{message.id}）"
            )
            checked += 1
    assert checked >= 30, f"only {checked} glossary terms found in the term list"


def test_first_use_rule_catches_a_bare_term():
    terms = [
        ("receptive field", "感受野"),
        ("convolution", "卷積"),
        ("convolutional layer", "卷積層"),
        ("gradient", "梯度"),
    ]
    ok = [
        "感受野（receptive field）很小。",
        "卷積層（convolutional layer）與卷積（convolution）。",
        "輸入梯度（input gradient）。",
    ]
    assert i18n.first_use_problems("p", ok, terms) == []
    # only the first use needs the English
    assert i18n.first_use_problems("p", ok + ["感受野變大。"], terms) == []
    bare = i18n.first_use_problems("p", ["卷積層（convolutional layer）的感受野。", "感受野（receptive field）"], terms)
    assert len(bare) == 1 and "感受野" in bare[0]
    # 卷積 inside 卷積層 is not a use of 卷積; code is not prose
    assert i18n.first_use_problems("p", ["卷積層（convolutional layer）", "``卷積``"], terms) == []
    assert len(i18n.first_use_problems("p", ["卷積層（convolutional layer）", "卷積"], terms)) == 1


def test_markup_rule_catches_lost_roles_and_code():
    english = "See :doc:`padding` and ``pad(x, 1)``, or `the tutorial <https://x.y/>`__."
    assert i18n.markup_problem(english, "見 :doc:`padding` 與 ``pad(x, 1)``，或 `教學 <https://x.y/>`__。") is None
    assert "role" in i18n.markup_problem(english, "見 padding 與 ``pad(x, 1)``，或 `教學 <https://x.y/>`__。")
    assert "code" in i18n.markup_problem(english, "見 :doc:`padding` 與 ``pad(x, 2)``，或 `教學 <https://x.y/>`__。")
    assert "link" in i18n.markup_problem(english, "見 :doc:`padding` 與 ``pad(x, 1)``，或教學。")


def test_render_rule_catches_markup_next_to_chinese():
    """reST inline markup must be set off by spaces or punctuation: next to a Chinese character it
    fails, sometimes silently (the backticks or asterisks show as text)."""
    assert i18n.rendered_problem("a **b** c", "甲 **乙** 丙") is None
    assert i18n.rendered_problem("a **b** c", "甲\\ **乙**\\ 丙") is None
    assert i18n.rendered_problem("see ``x`` now", "看（``x``）") is None
    assert i18n.rendered_problem("a **b** c", "甲**乙**丙") is not None
    assert i18n.rendered_problem("see ``x`` now", "看``x``了") is not None
    assert i18n.rendered_problem("see :term:`kernel` x", "見:term:`卷積核 <kernel>`（kernel）") is not None


def test_concept_pages_share_their_section_titles():
    """Every concept page has the same eight sections; in Chinese they read the same on every page
    (the browser test finds them by these titles)."""
    sections = {
        "Intuition": "直覺",
        "Definition": "定義",
        "Formula": "公式",
        "Figures": "圖解",
        "Worked example": "實例演算",
        "How TensorFlow does it": "TensorFlow 怎麼做",
        "Summary": "重點整理",
        "Exercises": "練習",
    }
    different = []
    for path in sorted((i18n.CATALOGUES / "concepts").glob("*.po")):
        for message in i18n._read(path):
            if message.id in sections and message.string != sections[message.id]:
                different.append(f"{path.stem}: {message.id!r} -> {message.string!r}")
    assert not different, "\n".join(different)
