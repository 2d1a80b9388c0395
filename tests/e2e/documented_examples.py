"""The code examples of the documented pages, extracted verbatim from the page copies here
(``send_message_page.md`` is the Send message page, unchanged), with only host and key swapped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCUMENTED_HOST = "https://api.mindosoftware.com"
DOCUMENTED_KEY = "mindo_xxxxxxxxxxxxxxxxxxxxxxxx"
_BLOCK = re.compile(r"```(bash|python|javascript)[^\n]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Example:
    language: str
    code: str
    index: int

    def runnable(self, base_url: str, api_key: str) -> str:
        return self.code.replace(DOCUMENTED_HOST, base_url).replace(DOCUMENTED_KEY, api_key)


def examples(page: str) -> list[Example]:
    text = (Path(__file__).parent / page).read_text()
    return [
        Example(language, _dedent(code), index)
        for index, (language, code) in enumerate(_BLOCK.findall(text))
    ]


def _dedent(code: str) -> str:
    import textwrap

    return textwrap.dedent(code)
