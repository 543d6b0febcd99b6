"""Inside the CNN: what every block of a CNN computes on one image, its filters, one
convolution step by step, what each channel responds to and which channels tell REAL from
FAKE."""

import streamlit as st

from pages import _inside_view, _router

_router.ensure_router()

st.title("Inside the CNN")
st.markdown("A detector is a stack of simple steps: look at each one on an image of your "
            "choice. Every choice is kept in the page's address, so a link opens the same view.")
_inside_view.render(url=True)
