"""Links that open the same view: widgets whose values live in the URL's query string, values the
app draws (a random test image, a shuffle seed, a round code) kept there too, a one-line notice
when a link's value is refused, and the page's link to copy.

Widget values use Streamlit's own binding (``bind="query-params"``; the widget's key is the
parameter's name, its displayed option the value): a link restores them, an invalid value is
dropped and the widget shows its default. ``bound`` says so in one line instead of silently.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import streamlit as st

_BOX = "_url_box"  # the sidebar placeholder holding the link
_SHOWN = "_url_shown"  # the link it shows in this run


def begin() -> None:
    """Start a page run (the router calls it): the link box in the sidebar, which every
    parameter the page then sets or corrects updates."""
    with st.sidebar:
        st.caption("Link to this view (hover it to copy):")
        st.session_state[_BOX] = st.empty()
    st.session_state[_SHOWN] = None
    _show_link()


def link() -> str:
    """The full URL of this view: the page's address and its query string."""
    query = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    return (st.context.url or "") + (f"?{query}" if query else "")


def bound(widget: Callable, *args, key: str, **kwargs):
    """``widget(*args, key=key, **kwargs)`` with its value kept in the URL under ``key``.

    A value the link gives that the widget refuses (an unknown option, a number out of range, a
    garbled string, an unknown tab) falls back to the default with a one-line notice above the
    widget. Works for any keyed Streamlit widget with a ``bind`` option, ``st.tabs`` included.
    """
    raw = [v for v in st.query_params.get_all(key) if v]
    # the link's values only seed a widget's first run; a notice goes above the widget
    slot = getattr(widget, "__self__", st).empty() if raw and key not in st.session_state else None
    result = widget(*args, key=key, bind="query-params", **kwargs)
    value = st.session_state.get(key)
    fmt = kwargs.get("format_func") or str
    if slot is not None and not _matches(raw, value, fmt):
        _notice(slot, key, raw, _encode(value, fmt))
    _show_link()
    return result


def get_int(key: str, stop: int, *, start: int = 0) -> int | None:
    """A whole number ``start <= n < stop`` the link gives under ``key`` (kept by the app, not a
    widget), or None; a garbled or out-of-range value is dropped with a one-line notice."""
    raw = st.query_params.get(key)
    if raw is None:
        return None
    try:
        value = int(raw)
        if not start <= value < stop:
            raise ValueError
    except ValueError:
        _notice(st, key, [raw], [])
        put(key, None)
        return None
    return value


def get_text(key: str, parse: Callable[[str], str]) -> str | None:
    """The text the link gives under ``key`` as ``parse`` normalises it, or None; a value that
    ``parse`` refuses (ValueError) is dropped with a one-line notice."""
    raw = st.query_params.get(key)
    if raw is None:
        return None
    try:
        return parse(raw)
    except ValueError:
        _notice(st, key, [raw], [])
        put(key, None)
        return None


def put(key: str, value) -> None:
    """Keep a value the app chose in the URL under ``key`` (None removes it)."""
    if value is None:
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = str(value)
    _show_link()


def _show_link() -> None:
    box, current = st.session_state.get(_BOX), link()
    if box is not None and current != st.session_state.get(_SHOWN):
        box.code(current, language=None, wrap_lines=True)
        st.session_state[_SHOWN] = current


def _notice(container, key: str, raw: list[str], shown: list[str]) -> None:
    value = ", ".join(raw)
    instead = ", ".join(shown) if shown else "the default"
    container.warning(f"The link's **{key}={value}** is not available here: showing "
                      f"{instead} instead.", icon=":material/link_off:")


def _encode(value, fmt: Callable) -> list[str]:
    """A widget value as the URL holds it (displayed options; numbers and switches as text)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [item for v in value for item in _encode(v, fmt)]
    if isinstance(value, bool):
        return [str(value).lower()]
    return [fmt(value)]


def _matches(raw: list[str], value, fmt: Callable) -> bool:
    """Whether the widget took the link's value (numbers compared as numbers: ``2.50`` is
    ``2.5``)."""
    shown = _encode(value, fmt)
    if len(raw) != len(shown):
        return False
    for given, taken in zip(raw, shown):
        if given.lower() == taken.lower():
            continue
        try:
            if float(given) != float(taken):
                return False
        except ValueError:
            return False
    return True
