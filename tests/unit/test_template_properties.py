"""Properties of resolution over generated templates: what goes in comes out, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.domain.accounts import BusinessAccountId
from mindo_core.domain.errors import TemplateParameterError
from mindo_core.domain.templates import StoredTemplate, TemplateId
from mindo_core.templating.compiled import CompiledTemplate, resolve
from mindo_core.templating.model import TemplateSpec, parse_template

# Texts Meta accepts: never blank, no new-line/tab/CR, never 5 spaces in a row, short enough.
SAFE_TEXT = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
    .filter(lambda s: s.strip() != "")
    .filter(lambda s: "     " not in s)
)
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
BUTTON_KINDS = ("URL_VARIABLE", "URL_STATIC", "QUICK_REPLY", "COPY_CODE", "PHONE_NUMBER")
HEADERS = (None, "STATIC", "TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")


@dataclass(frozen=True, kw_only=True)
class Generated:
    """A generated template and, independently of Mindo, the keys a client must send."""

    spec: TemplateSpec
    header_keys: tuple[str, ...]
    body_keys: tuple[str, ...]
    media_keys: tuple[str, ...]
    location: bool
    buttons: tuple[str, ...]


@st.composite
def generated_templates(draw: st.DrawFn) -> Generated:
    named = draw(st.booleans())
    count = draw(st.integers(min_value=0, max_value=4))
    header = draw(st.sampled_from(HEADERS))
    if named:
        names = draw(st.lists(NAMES, min_size=count + 1, max_size=count + 1, unique=True))
        body_names, header_name = names[:count], names[count]
    else:
        body_names, header_name = [str(n) for n in range(1, count + 1)], "1"
    body_order = draw(st.permutations(body_names))
    components: list[dict[str, Any]] = []
    header_keys: tuple[str, ...] = ()
    media_keys: tuple[str, ...] = ()
    if header == "STATIC":
        components.append({"type": "HEADER", "format": "TEXT", "text": "Aviso"})
    elif header == "TEXT":
        components.append(
            {"type": "HEADER", "format": "TEXT", "text": f"Hola {{{{{header_name}}}}}"}
        )
        header_keys = (header_name if named else "header_1",)
    elif header is not None:
        components.append({"type": "header", "format": header.lower()})
        if header != "LOCATION":
            media_keys = (f"header_{header.lower()}",)
    body_text = " y ".join(f"{{{{{n}}}}}" for n in body_order) or "Sin variables"
    components.append({"type": "BODY", "text": body_text})
    if draw(st.booleans()):
        components.append({"type": "FOOTER", "text": "Mindo"})
    buttons = tuple(draw(st.lists(st.sampled_from(BUTTON_KINDS), max_size=4)))
    if buttons:
        components.append({"type": "BUTTONS", "buttons": [_button(kind) for kind in buttons]})
    stored = StoredTemplate(
        id=TemplateId(1),
        business_account_id=BusinessAccountId(1),
        meta_template_id="1",
        name="generated",
        language="es",
        status="APPROVED",
        category="MARKETING",
        parameter_format="NAMED" if named else "POSITIONAL",
        components=components,
    )
    return Generated(
        spec=parse_template(stored),
        header_keys=header_keys,
        # Named parameters go out in the order the text uses them, numbered ones by number.
        body_keys=tuple(body_order) if named else tuple(body_names),
        media_keys=media_keys,
        location=header == "LOCATION",
        buttons=buttons,
    )


def _button(kind: str) -> dict[str, str]:
    return {
        "URL_VARIABLE": {"type": "URL", "text": "Ver", "url": "https://x.example/{{1}}"},
        "URL_STATIC": {"type": "URL", "text": "Web", "url": "https://x.example/"},
        "QUICK_REPLY": {"type": "QUICK_REPLY", "text": "Stop"},
        "COPY_CODE": {"type": "COPY_CODE", "example": "SAVE20"},
        "PHONE_NUMBER": {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550001"},
    }[kind]


@st.composite
def requests(draw: st.DrawFn, template: Generated) -> tuple[dict[str, str], dict[str, str]]:
    """Valid example values for every key the template takes (optional ones included)."""
    variables = {key: draw(SAFE_TEXT) for key in (*template.header_keys, *template.body_keys)}
    for key in template.media_keys:
        variables[key] = draw(st.sampled_from(["https://cdn.example/f", "4242424242"]))
    if template.location:
        variables |= {"header_latitude": "-38.0", "header_longitude": "-57.5"}
    buttons: dict[str, str] = {}
    for index, kind in enumerate(template.buttons):
        if kind == "URL_VARIABLE":
            buttons[f"button_{index}"] = draw(SAFE_TEXT)
        elif kind == "COPY_CODE":
            buttons[f"button_{index}"] = draw(st.from_regex(r"[A-Za-z0-9]{1,15}", fullmatch=True))
        elif kind == "QUICK_REPLY" and draw(st.booleans()):
            buttons[f"button_{index}"] = draw(SAFE_TEXT)
    return variables, buttons


def _parameters(components: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [p for c in components if c["type"] == kind for p in c["parameters"]]


@settings(deadline=None)
@given(st.data())
def test_example_values_come_out_one_parameter_per_placeholder_with_the_same_text(
    data: st.DataObject,
) -> None:
    template = data.draw(generated_templates())
    variables, buttons = data.draw(requests(template))

    resolved = resolve(template.spec, variables, buttons)

    body = _parameters(resolved.components, "body")
    assert [p["text"] for p in body] == [variables[k] for k in template.body_keys]
    header_texts = [p["text"] for p in _parameters(resolved.components, "header") if "text" in p]
    assert header_texts == [variables[k] for k in template.header_keys]
    if template.spec.parameter_format == "NAMED":
        assert [p["parameter_name"] for p in body] == list(template.body_keys)
    sent_buttons = {
        f"button_{c['index']}": c["parameters"][0]
        for c in resolved.components
        if c["type"] == "button"
    }
    assert set(sent_buttons) == set(buttons)
    for key, parameter in sent_buttons.items():
        assert buttons[key] in parameter.values()
    assert resolved.variables_used == variables | buttons


BAD_WHITESPACE = st.sampled_from(["\n", "\t", "\r", "     ", "\r\n", "      "])


@settings(deadline=None)
@given(st.data())
def test_any_text_parameter_with_newline_tab_or_five_spaces_is_refused_with_132018(
    data: st.DataObject,
) -> None:
    template = data.draw(generated_templates())
    variables, buttons = data.draw(requests(template))
    text_keys = [("variables", k) for k in (*template.header_keys, *template.body_keys)]
    text_keys += [
        ("button_variables", f"button_{i}")
        for i, kind in enumerate(template.buttons)
        if kind == "URL_VARIABLE"
    ]
    if not text_keys:
        return
    field_name, key = data.draw(st.sampled_from(text_keys))
    target = variables if field_name == "variables" else buttons
    at = data.draw(st.integers(min_value=0, max_value=len(target[key])))
    target[key] = target[key][:at] + data.draw(BAD_WHITESPACE) + target[key][at:]

    with pytest.raises(TemplateParameterError) as refused:
        resolve(template.spec, variables, buttons)

    assert refused.value.meta_code == 132018
    assert f"{field_name}.{key}" in refused.value.field_errors


@settings(deadline=None)
@given(st.data())
def test_unknown_keys_are_always_refused(data: st.DataObject) -> None:
    template = data.draw(generated_templates())
    variables, buttons = data.draw(requests(template))
    field_name = data.draw(st.sampled_from(["variables", "button_variables"]))
    known = template.spec.variable_keys() | template.spec.button_keys()
    unknown = data.draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in known))
    (variables if field_name == "variables" else buttons)[unknown] = "valor"

    with pytest.raises(TemplateParameterError) as refused:
        resolve(template.spec, variables, buttons)

    assert refused.value.meta_code == 132000
    assert list(refused.value.field_errors) == [f"{field_name}.{unknown}"]


@settings(deadline=None)
@given(st.data())
def test_a_compiled_template_checks_and_builds_what_resolve_gives(data: st.DataObject) -> None:
    template = data.draw(generated_templates())
    variables, buttons = data.draw(requests(template))
    compiled = CompiledTemplate(template.spec)

    resolved = resolve(template.spec, variables, buttons)

    assert compiled.resolve(variables, buttons) == resolved
    used = compiled.check(variables, buttons)
    assert used == resolved.variables_used
    assert compiled.components(used) == resolved.components


@st.composite
def broken_requests(
    draw: st.DrawFn, template: Generated
) -> tuple[dict[str, str], dict[str, str], str]:
    """A valid request with one required value taken away or blanked, and its field key."""
    variables, buttons = draw(requests(template))
    required = [
        ("variables" if v.component != "BUTTON" else "button_variables", v.name)
        for v in template.spec.variables()
        if v.is_required
    ]
    if not required:
        return variables, buttons, ""
    field_name, key = draw(st.sampled_from(required))
    target = variables if field_name == "variables" else buttons
    if draw(st.booleans()):
        del target[key]
    else:
        target[key] = draw(st.sampled_from(["", " ", "\u00a0"]))
    return variables, buttons, f"{field_name}.{key}"


@settings(deadline=None)
@given(st.data())
def test_a_request_missing_a_required_value_is_refused_with_131008(data: st.DataObject) -> None:
    template = data.draw(generated_templates())
    variables, buttons, field_key = data.draw(broken_requests(template))
    if not field_key:
        return

    with pytest.raises(TemplateParameterError) as refused:
        CompiledTemplate(template.spec).resolve(variables, buttons)

    assert refused.value.meta_code == 131008
    assert field_key in refused.value.field_errors
