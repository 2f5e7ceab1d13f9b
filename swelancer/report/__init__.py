"""The figures of runs and their renderings.

`metrics.compute` reads a run directory into a `models.RunReport`; `compare` puts reports side
by side (`Comparison`, `Leaderboard`); `render` turns any of them into a table, Markdown, JSON
or HTML (`table`, `markdown`, `html` with `charts` and `page`). `view` shows one attempt
(`attempt_dir` reads it, `blocks` lays it out, `transcript_html` draws it for the HTML report).
"""
