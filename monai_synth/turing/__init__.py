"""Visual Turing test: a self-hosted reader study of real against synthetic images, and its statistics.

- :mod:`.study`: create a study folder from image folders (real-fake with optional Likert, or 2AFC);
- :mod:`.images`: every image rendered the same way to a stripped PNG under a random id;
- :mod:`.store`: the answers, in SQLite (WAL), one per reader and trial, durable before the reply;
- :mod:`.server`: the reader web app (standard library HTTP server), with an admin progress page;
- :mod:`.stats`: pure statistics (exact binomial intervals, permutation tests, Fleiss' kappa, Pearson r);
- :mod:`.analysis` and :mod:`.report`: ``report.json`` and ``report.html``;
- :mod:`.commands`: ``monai-synth turing create|serve|report``.

Nothing here imports torch or MONAI (except for a CT window preset name), so the server starts at once.
"""
