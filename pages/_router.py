"""Running a page through the router when Streamlit ran it alone."""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent


def ensure_router() -> None:
    """Run a page through the router when Streamlit ran it alone.

    Streamlit starts a server whose folder has ``pages/`` in its old folder-based mode and
    leaves it only once ``st.navigation`` has run, so a first request for a page URL (a reload
    of /dataset after a restart) would render the page without the router's sidebar and page
    list. Then the router runs here (it renders this page) and the lone run stops.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        runpy.run_path(str(ROOT / "streamlit_app.py"))
        st.stop()
