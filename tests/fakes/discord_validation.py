"""Discord's documented limits on messages and modals, so the fake rejects what Discord would.

A failure is a 400 with code 50035 (Invalid Form Body) and an `errors` object naming the field.
"""

from __future__ import annotations

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
