"""Discord's documented limits on messages and modals, so the fake rejects what Discord would.

A failure is a 400 with code 50035 (Invalid Form Body) and an `errors` object naming the field.
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.discord_world import IS_COMPONENTS_V2, walk_components


def _fail(field: str, message: str) -> None:
    from tests.fakes.discord_rest import ApiError

    raise ApiError(400, 50035, f"Invalid Form Body: {field}: {message}",
                   errors={field: {"_errors": [{"code": "BASE_TYPE_BAD", "message": message}]}})


def _check_len(value: Any, limit: int, field: str) -> int:
    text = value or ""
    if not isinstance(text, str):
        _fail(field, "Must be a string.")
    if len(text) > limit:
        _fail(field, f"Must be {limit} or fewer in length.")
    return len(text)


def validate_embeds(embeds: list[dict[str, Any]]) -> None:
    if len(embeds) > 10:
        _fail("embeds", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        total += _check_len(embed.get("title"), 256, f"embeds.{i}.title")
        total += _check_len(embed.get("description"), 4096, f"embeds.{i}.description")
        total += _check_len((embed.get("footer") or {}).get("text"), 2048, f"embeds.{i}.footer.text")
        total += _check_len((embed.get("author") or {}).get("name"), 256, f"embeds.{i}.author.name")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            _fail(f"embeds.{i}.fields", "Must be 25 or fewer in length.")
        for j, fld in enumerate(fields):
            if not fld.get("name") or not fld.get("value"):
                _fail(f"embeds.{i}.fields.{j}", "This field is required")
            total += _check_len(fld.get("name"), 256, f"embeds.{i}.fields.{j}.name")
            total += _check_len(fld.get("value"), 1024, f"embeds.{i}.fields.{j}.value")
    if total > 6000:
        _fail("embeds", "Embed size exceeds maximum size of 6000")


def validate_components(components: list[dict[str, Any]], *, v2: bool, where: str = "components") -> None:
    if not v2 and len(components) > 5:
        _fail(where, "Must be 5 or fewer in length.")
    seen: set[str] = set()
    for comp in walk_components(components):
        kind = comp.get("type")
        if not v2 and kind == 1 and len(comp.get("components", [])) > 5:
            _fail(f"{where}.components", "Must be 5 or fewer in length.")
        custom_id = comp.get("custom_id")
        if custom_id is not None:
            _check_len(custom_id, 100, f"{where}.custom_id")
            if custom_id in seen:
                _fail(f"{where}.custom_id", "Component custom id cannot be duplicated")
            seen.add(custom_id)
        if kind == 2:
            _check_len(comp.get("label"), 80, f"{where}.label")
            if comp.get("style") == 5 and not comp.get("url"):
                _fail(f"{where}.url", "Link buttons need a url")
            if comp.get("style") not in (5, 6) and not custom_id:
                _fail(f"{where}.custom_id", "This field is required")
        if kind in (3,) and len(comp.get("options", [])) > 25:
            _fail(f"{where}.options", "Must be 25 or fewer in length.")


def validate_message_body(body: dict[str, Any], files: list[dict[str, Any]], *, loading: bool = False) -> None:
    flags = int(body.get("flags") or 0)
    v2 = bool(flags & IS_COMPONENTS_V2)
    _check_len(body.get("content"), 2000, "content")
    validate_embeds(body.get("embeds") or [])
    validate_components(body.get("components") or [], v2=v2)
    if v2 and (body.get("content") or body.get("embeds")):
        _fail("content", "Cannot send content or embeds with IS_COMPONENTS_V2")
    has_something = any(body.get(k) for k in ("content", "embeds", "components", "sticker_ids", "poll"))
    if not (has_something or files or loading):
        from tests.fakes.discord_rest import ApiError

        raise ApiError(400, 50006)


def validate_modal(data: dict[str, Any]) -> None:
    _check_len(data.get("title"), 45, "data.title")
    _check_len(data.get("custom_id"), 100, "data.custom_id")
    components = data.get("components") or []
    if not components or len(components) > 5:
        _fail("data.components", "Must be between 1 and 5 in length.")
    validate_components(components, v2=True, where="data.components")
    for comp in walk_components(components):
        if comp.get("type") == 4:
            _check_len(comp.get("label"), 45, "data.components.label")
            _check_len(comp.get("value"), 4000, "data.components.value")
            if int(comp.get("max_length") or 4000) > 4000:
                _fail("data.components.max_length", "Must be 4000 or less.")
        if comp.get("type") == 2:
            _fail("data.components", "Buttons are not allowed in modals")


# -- application commands and autocomplete ---------------------------------------------------------
# Source: https://github.com/discord/discord-api-docs/blob/main/developers/interactions/application-commands.mdx
# ("Application Command Naming", the command/option/choice structures, "Registering a Command" limits)
# and .../developers/interactions/receiving-and-responding.mdx ("Autocomplete": max of 25 choices).
# CHAT_INPUT command and option names match ^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$ and must be
# lowercase where a lowercase variant exists; Python's `re` has no \p{..}: \w (letters, digits, _ and
# combining marks) plus - and ' stands in for it. USER/MESSAGE names may be mixed case with spaces.
_CHAT_INPUT_NAME = re.compile(r"[-_'\w]{1,32}")
_COMMAND_TYPES_MAX = {1: 100, 2: 15, 3: 15}  # per scope: CHAT_INPUT, USER, MESSAGE
_MAX_OPTIONS = 25
_MAX_CHOICES = 25
_MAX_COMMAND_CHARS = 8000  # combined name, description and value of a command, its options and choices
_SUB_COMMAND, _SUB_COMMAND_GROUP = 1, 2
_CHOICE_TYPES = (3, 4, 10)  # STRING, INTEGER, NUMBER


def _check_chat_name(name: Any, field: str) -> None:
    if not isinstance(name, str) or not _CHAT_INPUT_NAME.fullmatch(name) or name != name.lower():
        _fail(field, f"Command name is invalid: {name!r} (1-32 lowercase letters, digits, - _ ')")


def _check_range(value: Any, low: int, high: int, field: str) -> int:
    if not isinstance(value, str) or not low <= len(value) <= high:
        _fail(field, f"Must be between {low} and {high} in length.")
    return len(value)


def _check_choices(choices: list[dict[str, Any]], field: str) -> int:
    if len(choices) > _MAX_CHOICES:
        _fail(field, f"Must be {_MAX_CHOICES} or fewer in length.")
    size = 0
    for i, choice in enumerate(choices):
        size += _check_range(choice.get("name"), 1, 100, f"{field}.{i}.name")
        value = choice.get("value")
        if isinstance(value, str):
            size += _check_range(value, 0, 100, f"{field}.{i}.value")
        elif not isinstance(value, int | float) or isinstance(value, bool):
            _fail(f"{field}.{i}.value", "Must be a string, integer or number.")
    return size


def _check_options(options: list[dict[str, Any]], field: str, *, depth: int) -> int:
    if len(options) > _MAX_OPTIONS:
        _fail(field, f"Must be {_MAX_OPTIONS} or fewer in length.")
    size, names = 0, set()
    for i, option in enumerate(options):
        where = f"{field}.{i}"
        kind = option.get("type")
        _check_chat_name(option.get("name"), f"{where}.name")
        if option["name"] in names:
            _fail(f"{where}.name", "Option names must be unique")
        names.add(option["name"])
        size += len(option["name"]) + _check_range(option.get("description"), 1, 100, f"{where}.description")
        if option.get("choices"):
            if kind not in _CHOICE_TYPES:
                _fail(f"{where}.choices", "Choices are only allowed for STRING, INTEGER and NUMBER options")
            if option.get("autocomplete"):
                _fail(f"{where}.autocomplete", "Autocomplete cannot be set with choices")
            size += _check_choices(option["choices"], f"{where}.choices")
        nested = option.get("options") or []
        if kind in (_SUB_COMMAND, _SUB_COMMAND_GROUP):
            # Only one level of nesting: a group holds subcommands, a subcommand holds plain options.
            if kind == _SUB_COMMAND_GROUP and (depth > 0 or any(o.get("type") != _SUB_COMMAND for o in nested)):
                _fail(f"{where}.options", "Subcommand groups can only contain subcommands, one level deep")
            if kind == _SUB_COMMAND and any(o.get("type") in (_SUB_COMMAND, _SUB_COMMAND_GROUP) for o in nested):
                _fail(f"{where}.options", "Subcommands cannot contain subcommands")
            size += _check_options(nested, f"{where}.options", depth=depth + 1)
        elif nested:
            _fail(f"{where}.options", "Only subcommands and groups have options")
    return size


def validate_command(payload: dict[str, Any], field: str = "0") -> None:
    kind = int(payload.get("type", 1))
    name = payload.get("name")
    if kind == 1:
        _check_chat_name(name, f"{field}.name")
        size = len(name) + _check_range(payload.get("description"), 1, 100, f"{field}.description")
        size += _check_options(payload.get("options") or [], f"{field}.options", depth=0)
        if size > _MAX_COMMAND_CHARS:
            _fail(field, f"Command exceeds maximum size ({_MAX_COMMAND_CHARS})")
    else:
        _check_range(name, 1, 32, f"{field}.name")
        if payload.get("description"):
            _fail(f"{field}.description", "USER and MESSAGE commands have an empty description")
        if payload.get("options"):
            _fail(f"{field}.options", "USER and MESSAGE commands have no options")


def validate_command_list(payloads: list[dict[str, Any]]) -> None:
    """A bulk overwrite: every command valid, names unique per type, at most 100/15/15 per type."""
    for i, payload in enumerate(payloads):
        validate_command(payload, str(i))
    for kind, limit in _COMMAND_TYPES_MAX.items():
        if sum(1 for p in payloads if int(p.get("type", 1)) == kind) > limit:
            _fail("_", f"Maximum number of application commands of type {kind} reached ({limit})")


def validate_autocomplete_choices(choices: Any) -> None:
    if not isinstance(choices, list):
        _fail("data.choices", "Must be an array.")
    _check_choices(choices, "data.choices")
