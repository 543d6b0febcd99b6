"""Images and where they come from: finding and listing a dataset source, decoding any image
format, the decoded-array cache, exact duplicates and the train->test leak, atomic file writes
and deterministic image degradations.

Belongs here: code that works on files and uint8 pixel arrays. Not here: statistics of a
dataset (``core.analysis``), anything that knows about models (``core.models`` and above).
"""
