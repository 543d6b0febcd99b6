"""Home: what the app is, the dataset status and links to every page."""

import streamlit as st

from core.data.sources import SPLITS
from pages import _data, _router, _widgets

_router.ensure_router()

st.title("CIFAKE Explorer")
st.markdown(
    """
How do real photos differ from AI-generated images, and how well can a machine tell them apart?
This app explores **CIFAKE** (Bird & Lotfi, 2023): 60,000 real 32x32 photos from CIFAR-10 and
60,000 images that Stable Diffusion 1.4 generated for the same ten classes (airplane … truck),
all stored as JPEG quality 75.
"""
)

st.subheader("Dataset status")
path, error = _data.source()
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

st.subheader("Pages")
st.page_link("pages/dataset.py", label="**Dataset**: sample images, pixel, blur, background, "
             "colour and spectrum statistics, duplicates and the train→test leak, and an "
             "interactive t-SNE/PCA map", icon=":material/photo_library:")
st.page_link("pages/models.py", label="**Model comparison**: leaderboard of every trained model "
             "(test and leak-free test), ROC/PR curves, confusion matrices, calibration, "
             "per-class accuracy, training curves, PCA sweep, agreement, ensembles and the "
             "images each model gets wrong", icon=":material/leaderboard:")
st.page_link("pages/predict.py", label="**Check an image**: upload a picture (or draw a random "
             "test image) and see every model's verdict, heat maps of why, and whether the "
             "verdict survives re-saving and resizing", icon=":material/image_search:")
st.page_link("pages/scan.py", label="**Batch scan**: many files or a zip into a table of "
             "verdicts, as CSV or JSON", icon=":material/folder_zip:")
st.page_link("pages/filters.py", label="**Filters lab**: Gray World, blur, median and SRM "
             "filters, and what a CNN learns from filtered images", icon=":material/filter:")
st.page_link("pages/robustness.py", label="**Robustness lab**: accuracy under JPEG, blur, "
             "noise, rescaling, cropping; move a slider and watch the verdicts",
             icon=":material/shield:")
st.page_link("pages/adversarial.py", label="**Adversarial lab**: invisible FGSM and PGD "
             "changes that flip a CNN's verdict", icon=":material/bolt:")
st.page_link("pages/quiz.py", label="**Human vs machine**: a quiz round for you or a whole "
             "class, scored against the models", icon=":material/quiz:")
