"""Home: what the app is, the lesson first, every page in one line each, a REAL-vs-FAKE teaser
(the committed counts without the dataset) and the dataset status. Cheap to open: a class opens
it at once (a few images read from the source, cached; nothing decoded in full)."""

from pathlib import Path

import streamlit as st

from core.data.sources import SPLITS
from pages import _data, _lesson_views, _router, _widgets

_router.ensure_router()

HERE = Path(__file__).parent
TEASER_CLASSES = ("airplane", "bird", "cat", "deer", "dog", "horse", "ship", "truck")
# (script, label, icon, one line on it); a script that is not there is left out
PAGES = [
    ("lesson.py", "Lesson", ":material/school:",
     "a class lesson in steps, for a projector or at your own pace"),
    ("dataset.py", "Dataset", ":material/photo_library:",
     "sample images, pixel, blur and spectrum statistics, duplicates, t-SNE maps"),
    ("models.py", "Model comparison", ":material/leaderboard:",
     "every trained model: leaderboard, ROC, calibration, mistakes, ensembles"),
    ("predict.py", "Check an image", ":material/image_search:",
     "every model's verdict on your picture, heat maps, stability"),
    ("scan.py", "Batch scan", ":material/folder_zip:",
     "many files or a zip into a table of verdicts (CSV, JSON)"),
    ("filters.py", "Filters lab", ":material/filter:",
     "Gray World, blur, median and noise filters, and CNNs trained on them"),
    ("robustness.py", "Robustness lab", ":material/shield:",
     "accuracy under JPEG, blur, noise and rescaling; one image live"),
    ("adversarial.py", "Adversarial lab", ":material/bolt:",
     "invisible FGSM and PGD changes that flip a CNN's verdict"),
    ("generalization.py", "Generalization lab", ":material/hub:",
     "detectors against generators they never saw (a GAN, a VAE)"),
    ("training.py", "Training lab", ":material/model_training:",
     "train a CNN live with your own settings, sweeps, learning curves"),
    ("inside.py", "Inside the CNN", ":material/layers:",
     "what a trained CNN computes, layer by layer"),
    ("quiz.py", "Human vs machine", ":material/quiz:",
     "a quiz round for you or a whole class, scored against the models"),
]
STYLE = """<style>
.st-key-home_start a { background: #ff4b4b; border-radius: 0.5rem; padding: 0.5rem 1.1rem; }
.st-key-home_start a p, .st-key-home_start a span { color: white; font-size: 1.25rem; }
.st-key-home_teaser img { image-rendering: pixelated; }
</style>"""

st.html(STYLE)
st.title("CIFAKE Explorer")
st.markdown(
    """
How do real photos differ from AI-generated images, and how well can a machine tell them apart?
This app explores **CIFAKE** (Bird & Lotfi, 2023): 60,000 real 32x32 photos from CIFAR-10 and
60,000 images that Stable Diffusion 1.4 generated for the same ten classes (airplane … truck),
all stored as JPEG quality 75.
"""
)

path, error = _data.source()
lessons = _lesson_views.lessons()
with st.container(border=True):
    left, right = st.columns([2, 3], vertical_alignment="center", gap="medium")
    with left:
        main = lessons.find("real-or-generated") or (lessons.lessons[0] if lessons.lessons
                                                     else None)
        if main is not None:
            st.markdown(f"### {main.title}\nA lesson in {len(main.steps)} steps, about "
                        f"{main.minutes:g} minutes: see, guess, measure, train a detector, and "
                        "find where it fails. For a projector or at your own pace.")
        with st.container(key="home_start"):
            st.page_link("pages/lesson.py", label="Start the lesson",
                         icon=":material/play_arrow:")
    with right, st.container(key="home_teaser"):
        listing = _data.source_listing() if path is not None else None
        board = None
        if listing is not None:
            board, _ = _lesson_views.pairs_board(_lesson_views.source_key(), TEASER_CLASSES, 1,
                                                 "test", 0, listing)
        if board is not None:
            st.image(board, caption="Top: real photos. Bottom: generated for the same classes.")
        else:
            stats = _data.committed_stats()
            if stats is not None:
                total = {label: sum(stats.counts[split][label] for split in SPLITS)
                         for label in ("REAL", "FAKE")}
                st.markdown(f"**{total['REAL']:,} real photos** and **{total['FAKE']:,} "
                            f"generated images** in {len(stats.classes) - 1} classes, "
                            f"{stats.meta['size']}x{stats.meta['size']} pixels (the committed "
                            "statistics of the full CIFAKE; images need the dataset).")

st.subheader("Pages")
for script, title, icon, line in PAGES:
    if (HERE / script).exists():
        st.page_link(f"pages/{script}", label=f"**{title}**: {line}", icon=icon)

st.subheader("Dataset status")
if path is None:
    st.warning(f"**Dataset not found.** {_widgets.escape_markdown(error)}",
               icon=":material/folder_off:")
    _widgets.get_data_panel()
    stats = _data.committed_stats()
    if stats is not None:
        st.caption("Counts of the full CIFAKE, from the committed statistics "
                   "(`python -m core stats`):")
    counts = stats.counts if stats is not None else None
else:
    st.success(f"**Dataset found:** `{path}`", icon=":material/check_circle:")
    counts = _data.file_counts(path)
    st.caption("Image files per split and label (before decoding):")

if counts is not None:
    table = {split: counts[split] for split in SPLITS}
    cols = st.columns(5)
    cols[0].metric("Train REAL", f"{table['train']['REAL']:,}")
    cols[1].metric("Train FAKE", f"{table['train']['FAKE']:,}")
    cols[2].metric("Test REAL", f"{table['test']['REAL']:,}")
    cols[3].metric("Test FAKE", f"{table['test']['FAKE']:,}")
    cols[4].metric("Total", f"{sum(sum(r.values()) for r in table.values()):,}")
