"""The ``generate`` stage: reasoning traces from a teacher model, kept only when correct (``stage.py``)."""
