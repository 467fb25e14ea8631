"""Checks over the UI's own files: both dictionaries complete and consistent, every text key the
code uses translated, every module import resolvable, and none of the constructs that would let
data become markup or code (innerHTML, eval, inline styles) or pull anything from another site.
"""

from __future__ import annotations

import json
import re

import pytest

from berth_core.ui.assets import STATIC_DIR

JS_DIR = STATIC_DIR / "js"
JS_FILES = sorted(JS_DIR.rglob("*.js"))
LANGUAGES = ("en-US", "zh-CN")


def source(path) -> str:
    return path.read_text(encoding="utf-8")


def dictionary(lang: str) -> dict[str, str]:
    return json.loads((STATIC_DIR / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


ALL_JS = "\n".join(source(p) for p in JS_FILES)


def test_dictionaries_have_the_same_keys_and_placeholders():
    english, chinese = dictionary("en-US"), dictionary("zh-CN")
    assert set(english) == set(chinese)
    placeholder = re.compile(r"\{(\w+)\}")
    for key, text in english.items():
        assert set(placeholder.findall(text)) == set(placeholder.findall(chinese[key])), key
        assert text.strip() and chinese[key].strip(), key


def used_keys() -> set[str]:
    keys = set(re.findall(r'\bt\("([A-Za-z][\w.-]*)"', ALL_JS))
    # Keys held in tables and passed to t() later (navigation, tabs, roles).
    keys |= set(re.findall(r'(?:label|key): "((?:nav|projectTab|role)\.\w+)"', ALL_JS))
    # Keys built from a prefix and a value: check each value the code can produce.
    for group in re.findall(r'\{ resource: "([\w-]+)", actions: \[([^\]]*)\] \}', ALL_JS):
        keys.add(f"resource.{group[0]}")
        keys |= {f"action.{a}" for a in re.findall(r'"(\w+)"', group[1])}
    lists = {"OPERATIONS": "operation", "RESOURCE_TYPES": "resource", "DEFAULT_EVENTS": "event", "PURGE_OPERATIONS": "operation"}
    for name, prefix in lists.items():
        listed = re.search(rf"const {name} = \[([^\]]*)\]", ALL_JS).group(1)
        keys |= {f"{prefix}.{value}" for value in re.findall(r'"([\w-]+)"', listed)}
    keys |= {f"config.{name}" for name in re.findall(r'(?:item\(config, |ldap\()"(\w+)"', ALL_JS)}
    keys |= {f"jobs.{action}Done" for action in ("pause", "resume", "stop")}
    return keys


def test_every_text_the_code_uses_is_translated():
    keys = used_keys()
    assert len(keys) > 300  # the scan found the code's keys, not nothing
    for lang in LANGUAGES:
        missing = sorted(keys - set(dictionary(lang)))
        assert missing == [], f"{lang} lacks {missing}"


def test_every_module_import_resolves():
    pattern = re.compile(r'(?:from\s+|import\s*\(\s*)"(\.{1,2}/[^"]+)"')
    for path in JS_FILES:
        for target in pattern.findall(source(path)):
            assert (path.parent / target).resolve().is_file(), f"{path.name} imports missing {target}"


@pytest.mark.parametrize(
    "construct",
    [
        r"\.innerHTML\b",
        r"\.outerHTML\b",
        r"insertAdjacentHTML",
        r"document\.write",
        r"\beval\(",
        r"new Function\(",
        r'setAttribute\(\s*"style"',
        r'setAttribute\(\s*"on',
        r"javascript:",
        r"\bsetTimeout\(\s*[\"'`]",
    ],
)
def test_no_construct_turns_data_into_markup_or_code(construct):
    for path in JS_FILES:
        assert not re.search(construct, source(path)), f"{path.relative_to(STATIC_DIR)} uses {construct}"


def test_nothing_is_loaded_from_another_site():
    remote = re.compile(r"""(?:import\s*\(?|from|fetch\(|url\(|@import)\s*["']?(?:https?:)?//""")
    for path in [*JS_FILES, *STATIC_DIR.rglob("*.css")]:
        assert not remote.search(source(path)), f"{path.name} loads a remote resource"
    shell = (STATIC_DIR.parent / "templates" / "ui" / "shell.html").read_text(encoding="utf-8")
    assert "//" not in re.sub(r"<!--.*?-->", "", shell).replace("http-equiv", "")


def test_every_module_opens_with_a_comment():
    for path in JS_FILES:
        assert source(path).startswith("//"), f"{path.relative_to(STATIC_DIR)} has no opening comment"
