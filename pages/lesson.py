"""Lesson: a lesson from ``lessons/`` in steps (a text to read out, a live view, teacher notes),
with Previous / Next, a clickable list of steps and progress. The lesson, the step and presenter
mode live in the URL (``?lesson=real-or-generated&step=3&presenter=true``), so a link opens that
step; presenter mode collapses the sidebar, enlarges the type and hides the views' controls."""

import importlib
import threading

import streamlit as st

from core.labs.lesson_views import VIEWS
from core.labs.lessons import LESSONS_DIR, Lesson, Step, locate
from pages import _data, _lesson_views, _router, _url, _widgets
from pages._lesson_views import Context, views

_router.ensure_router()

PARAMS = ("lesson", "step", "presenter")
STYLE = """<style>
[class*="st-key-lesson_steps"] { gap: 0.1rem; }
[class*="st-key-lesson_steps"] button { min-height: 2rem; padding: 0.2rem 0.6rem; }
[class*="st-key-lesson_steps"] button > div { justify-content: flex-start; width: 100%; }
[class*="st-key-lesson_steps"] button p { text-align: left; }
.stMainBlockContainer [data-testid="stImage"] img { image-rendering: pixelated; }
.lesson-code { font-size: clamp(2.2rem, 4.2vw, 4.5rem); font-weight: 700; letter-spacing: 0.2em;
               font-family: monospace; line-height: 1.1; overflow-wrap: anywhere; }
</style>"""
PRESENTER_STYLE = """<style>
.stMainBlockContainer { padding-top: 4.2rem; padding-bottom: 2rem; }
.stMainBlockContainer [data-testid="stMarkdown"] [data-testid="stMarkdownContainer"] p,
.stMainBlockContainer [data-testid="stMarkdown"] [data-testid="stMarkdownContainer"] li,
.stMainBlockContainer [data-testid="stAlert"] p,
.stMainBlockContainer [data-testid="stProgress"] p { font-size: 1.4rem; }
.stMainBlockContainer h1 { font-size: 2.5rem; padding-top: 0.25rem; }
.stMainBlockContainer [data-testid="stCaptionContainer"] p { font-size: 1.1rem; }
.stMainBlockContainer [data-testid="stMetricValue"] { font-size: 2.4rem; }
</style>"""


@st.cache_resource(show_spinner=False)
def _warm_up() -> threading.Thread:
    """Import TensorFlow once per server in the background, a few steps before a step that
    runs a CNN (the import takes seconds)."""
    thread = threading.Thread(target=importlib.import_module, args=("keras",), daemon=True,
                              name="lesson-warm-up")
    thread.start()
    return thread


# the widgets change the URL; each run reads its position from the URL

def _set_step(step: int) -> None:
    st.query_params["step"] = str(step)


def _pick_lesson() -> None:
    st.query_params["lesson"] = st.session_state["lesson_pick"]
    _set_step(1)


def _toggle_presenter() -> None:
    if st.session_state["lesson_presenter"]:
        st.query_params["presenter"] = "true"
    else:
        st.query_params.pop("presenter", None)


def _sync_url(lesson: Lesson, step: int, presenter: bool) -> None:
    """Write the position into the URL where it says something else (a bad value replaced)."""
    wanted = {"lesson": lesson.id, "step": str(step), "presenter": "true" if presenter else None}
    for key, value in wanted.items():
        if st.query_params.get(key) != value:
            _url.put(key, value)


def step_list(lesson: Lesson, step: int, where: str) -> None:
    """Every step as a button (buttons keep no value that could go stale in a closed menu)."""
    with st.container(key=f"lesson_steps_{where}", gap="small"):
        for number, item in enumerate(lesson.steps, start=1):
            st.button(f"{number}. {item.title}", key=f"lesson_goto_{where}_{number}",
                      type="primary" if number == step else "tertiary", on_click=_set_step,
                      args=(number,), width="stretch")


def nav_buttons(lesson: Lesson, step: int, where: str, left=None, right=None) -> None:
    """Previous and Next, in the given columns (default: a new row of two)."""
    if left is None:
        left, right = st.columns(2)
    left.button("Previous", key=f"lesson_prev_{where}", icon=":material/arrow_back:",
                disabled=step <= 1, on_click=_set_step, args=(step - 1,), width="stretch")
    right.button("Next", key=f"lesson_next_{where}", icon=":material/arrow_forward:",
                 type="primary", disabled=step >= len(lesson.steps), on_click=_set_step,
                 args=(step + 1,), width="stretch")


def progress(lesson: Lesson, step: int) -> None:
    st.progress(step / len(lesson.steps),
                text=f"Step {step} of {len(lesson.steps)} · about "
                     f"{lesson.steps[step - 1].minutes:g} min")


def teacher_notes(current: Step) -> None:
    if not (current.points or current.question or current.answer):
        return
    with st.expander("Teacher notes", icon=":material/school:"):
        if current.points:
            st.markdown("**Talking points**\n" + "\n".join(f"- {p}" for p in current.points))
        if current.question:
            st.markdown(f"**Ask the class:** {current.question}")
        if current.answer:
            st.markdown(f"**Expected answer:** {current.answer}")


def show_step(lesson: Lesson, step: int, presenter: bool) -> None:
    current = lesson.steps[step - 1]
    (st.title if presenter else st.header)(current.title)
    st.markdown(current.text)
    with st.container():
        views()[current.view](current.settings, Context(f"lesson_{lesson.id}_{step}", lesson.id,
                                                        controls=not presenter))
    teacher_notes(current)


lessons = _lesson_views.lessons()
if not lessons.lessons:
    st.title("Lesson")
    st.error(f"No lesson could be loaded from `{LESSONS_DIR.name}/`.", icon=":material/error:")
    for problem in lessons.problems:
        st.markdown(f"- {_widgets.escape_markdown(str(problem))}")
    st.stop()

position = locate(lessons, **{key: st.query_params.get(key) for key in PARAMS})
lesson, step, presenter = position.lesson, position.step, position.presenter
_sync_url(lesson, step, presenter)
st.session_state["lesson_presenter"] = presenter
st.html(STYLE + (PRESENTER_STYLE if presenter else ""))
st.set_page_config(initial_sidebar_state="collapsed" if presenter else "auto")

if _data.source()[0] is not None and any(VIEWS[s.view].runs_models
                                          for s in lesson.steps[step - 1:step + 2]):
    _warm_up()

for notice in position.notices:
    st.warning(_widgets.escape_markdown(notice), icon=":material/link_off:")

if presenter:
    c1, c2, c3, c4, c5 = st.columns([1.2, 1.2, 5, 1.2, 1.9], vertical_alignment="center")
    nav_buttons(lesson, step, "top", c1, c2)
    with c3:
        progress(lesson, step)
    with c4.popover("Steps", icon=":material/list:", width="stretch"):
        step_list(lesson, step, "menu")
    c5.toggle("Presenter mode", key="lesson_presenter", on_change=_toggle_presenter)
    show_step(lesson, step, presenter)
else:
    st.title(lesson.title)
    st.caption(f"{len(lesson.steps)} steps · about {lesson.minutes:g} minutes"
               + (f" · {lesson.summary}" if lesson.summary else ""))
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    if len(lessons.lessons) > 1:
        st.session_state["lesson_pick"] = lesson.id
        by_id = {item.id: item for item in lessons.lessons}
        c1.selectbox("Lesson", list(by_id), key="lesson_pick", on_change=_pick_lesson,
                     format_func=lambda i: f"{by_id[i].title} ({len(by_id[i].steps)} steps)")
    c2.toggle("Presenter mode", key="lesson_presenter", on_change=_toggle_presenter,
              help="For a projector: sidebar collapsed, larger type, one step per screen, the "
                   "views' controls hidden. Kept in the link.")
    if lessons.problems:
        with st.expander(f"{len({p.file for p in lessons.problems})} lesson file(s) could not "
                         "be loaded", icon=":material/error:"):
            st.markdown("\n".join(f"- {_widgets.escape_markdown(str(p))}"
                                  for p in lessons.problems))
    nav, main = st.columns([1, 4], gap="medium")
    with nav:
        st.markdown("**Steps**")
        step_list(lesson, step, "list")
    with main:
        progress(lesson, step)
        show_step(lesson, step, presenter)
        nav_buttons(lesson, step, "bottom")
