"""Helper package of the data-mining lifecycle lab: notebooks narrate, `mining` computes."""

__version__ = "0.1.0"
