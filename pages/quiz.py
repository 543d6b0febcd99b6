"""Human vs machine: a round of real and AI-generated test images; the player's score beside
every model's on the same images and beside the class's earlier rounds."""

import numpy as np
import pandas as pd
import streamlit as st

from core.data.imageio import enlarge
from core.data.sources import CLASS_NAMES
from core.labs import lab_figures, quiz
from core.labs.quiz_store import QuizStore, QuizStoreError
from pages import _data, _model_cache, _router, _url, _widgets

_router.ensure_router()

st.title("Human vs machine")
st.markdown(
    f"Can you tell a CIFAR-10 photo from a Stable Diffusion rendering at 32x32? Answer **Real** "
    f"or **AI** for each image, then see how you did against the models and against the 63 "
    f"people of the reference study, who averaged {quiz.HUMAN_BASELINE:.1%}."
)

dataset = _data.decoded_dataset()
if dataset is None:
    st.info("The quiz shows CIFAKE test images, so it needs the dataset.")
    _widgets.get_data_panel()
    st.stop()
try:
    store = QuizStore()
except QuizStoreError as exc:  # CIFAKE_QUIZ_DB names no usable database
    st.error(_widgets.escape_markdown(f"{exc}."), icon=":material/error:")
    st.stop()
state = st.session_state.setdefault("quiz", {})

# a link's round: quiz?quiz_code=ABC123 (and quiz_n, the number of images) opens it
link_code = _url.get_text("quiz_code", quiz.normalise_code)
link_n = _url.get_int("quiz_n", 31, start=6)


def end_round() -> None:
    state.clear()
    _url.put("quiz_code", None)
    _url.put("quiz_n", None)


if not state.get("rows"):
    if link_code:
        st.info(f"Round **{link_code}** from your link: enter your name and press "
                "**Start round**.", icon=":material/link:")
    with st.form("quiz_setup"):
        c1, c2, c3 = st.columns(3)
        player = c1.text_input("Your name (shown on the leaderboard)", max_chars=40)
        code = c2.text_input("Round code (leave empty for a new round)", value=link_code or "",
                             max_chars=12,
                             help="Everyone who enters the same code sees the same images in "
                                  "the same order.")
        n = c3.slider("Images", 6, 30, link_n or quiz.DEFAULT_ROUND_SIZE, 1)
        if st.form_submit_button("Start round", type="primary", icon=":material/play_arrow:"):
            try:
                chosen = quiz.make_round(dataset, code or quiz.new_code(), n)
            except ValueError as exc:
                st.error(str(exc))
            else:
                state.update(player=player, code=chosen.code, rows=chosen.rows.tolist(),
                             labels=chosen.labels.tolist(), answers=[], saved=None)
                _url.put("quiz_code", chosen.code)  # the link now opens this round
                _url.put("quiz_n", len(chosen.rows))
                st.rerun()
else:
    rows, labels, answers = state["rows"], state["labels"], state["answers"]
    st.caption(f"Round code **{state['code']}** · share it, or this view's link, so others get "
               "the same images")
    if len(answers) < len(rows):
        i = len(answers)
        st.progress(i / len(rows), text=f"Image {i + 1} of {len(rows)}")
        st.image(enlarge(dataset.images[rows[i]], 8), caption="Real photo or AI-generated?")
        left, right, _ = st.columns([1, 1, 2])
        if left.button("Real", type="primary", width="stretch", key=f"quiz_real_{i}"):
            answers.append(0)
            st.rerun()
        if right.button("AI-generated", type="primary", width="stretch", key=f"quiz_fake_{i}"):
            answers.append(1)
            st.rerun()
        if st.button("Abandon round", key="quiz_abandon"):
            end_round()
            st.rerun()
    else:
        images = dataset.images[rows]
        y = np.asarray(labels)
        mine = quiz.score(answers, y)
        detector = _model_cache.detector()
        machine = {} if detector is None else quiz.model_accuracy(detector, images, y)
        if state.get("saved") is None and state.get("save_error") is None:
            try:
                state["saved"] = store.save(player=state.get("player", ""), code=state["code"],
                                            answers=answers, labels=y, model_accuracy=machine)
            except QuizStoreError as exc:
                state["save_error"] = str(exc)
        if state.get("saved") is None:
            st.error(_widgets.escape_markdown(
                f"Your round is not stored yet: {state['save_error']}. It is kept in this browser "
                "tab: retry once the database is back (playing another round discards it)."),
                icon=":material/cloud_off:")
            if st.button("Retry saving", icon=":material/refresh:", key="quiz_retry"):
                state["save_error"] = None
                st.rerun()
        st.subheader(f"You scored {mine.accuracy:.0%} ({mine.correct} of {mine.total})")
        st.markdown(f"People in the reference study: **{quiz.HUMAN_BASELINE:.1%}** on average.")
        if machine:
            table = pd.DataFrame({"model": list(machine), "accuracy %": [100 * v for v in
                                                                          machine.values()]})
            st.dataframe(table, hide_index=True, column_config={
                "accuracy %": st.column_config.NumberColumn(format="%.0f")})
        if mine.wrong:
            st.markdown("**The images that fooled you**")
            _widgets.image_grid([images[k] for k in mine.wrong],
                                [f"{'AI' if labels[k] else 'Real'} · "
                                 f"{CLASS_NAMES[dataset.classes[rows[k]]]}"
                                 for k in mine.wrong], columns=8, scale=3)
        if st.button("Play another round", type="primary", key="quiz_again"):
            end_round()
            st.rerun()

st.subheader("The leaderboard")
history = None
try:
    history = store.rounds()
except QuizStoreError as exc:
    st.warning(_widgets.escape_markdown(f"The leaderboard is unavailable: {exc}."),
               icon=":material/cloud_off:")
if history == []:
    st.caption("No finished rounds yet.")
elif history:
    current = next((r for r in history if r["id"] == state.get("saved")), None)
    best_model = (dict(sorted(current["models"].items(), key=lambda kv: -kv[1])[:1])
                  if current else None)
    st.plotly_chart(lab_figures.quiz_figure(
        [r["accuracy"] for r in history], baseline=quiz.HUMAN_BASELINE,
        player=current["accuracy"] if current else None, models=best_model),
        key="quiz_histogram")
    board = pd.DataFrame([{"player": r["player"], "accuracy %": 100 * r["accuracy"],
                           "images": r["n"], "code": r["code"],
                           "finished": pd.Timestamp(r["finished"], unit="s").strftime(
                               "%Y-%m-%d %H:%M")} for r in history])
    st.dataframe(board.sort_values("accuracy %", ascending=False).head(20), hide_index=True,
                 column_config={"accuracy %": st.column_config.NumberColumn(format="%.0f")})
    st.caption(f"{len(history)} rounds stored in `{store.where}`.")
