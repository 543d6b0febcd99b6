"""CIFAKE Explorer: ``streamlit run streamlit_app.py``. The router and the shared sidebar."""

from pathlib import Path

import streamlit as st

from pages import _data, _url

HERE = Path(__file__).parent
PAGES = [
    ("home.py", "Home", ":material/home:"),
    ("lesson.py", "Lesson", ":material/school:"),
    ("dataset.py", "Dataset", ":material/photo_library:"),
    ("models.py", "Model comparison", ":material/leaderboard:"),
    ("predict.py", "Check an image", ":material/image_search:"),
    ("inside.py", "Inside the CNN", ":material/layers:"),
    ("scan.py", "Batch scan", ":material/folder_zip:"),
    ("filters.py", "Filters lab", ":material/filter:"),
    ("robustness.py", "Robustness lab", ":material/shield:"),
    ("adversarial.py", "Adversarial lab", ":material/bolt:"),
    ("generalization.py", "Generalization lab", ":material/hub:"),
    ("training.py", "Training lab", ":material/model_training:"),
    ("quiz.py", "Human vs machine", ":material/quiz:"),
]


def main() -> None:
    st.set_page_config(page_title="CIFAKE Explorer", page_icon=":material/image_search:",
                       layout="wide")
    pages = [
        st.Page(HERE / "pages" / script, title=title, icon=icon, default=i == 0)
        for i, (script, title, icon) in enumerate(PAGES)
    ]
    page = st.navigation(pages)
    _data.sidebar()
    _url.begin()
    page.run()


main()
