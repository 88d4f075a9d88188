"""Helper package of the data-mining lifecycle lab: notebooks narrate, `mining` computes."""
