"""Watching how the money was earned: a transcript monitor that flags reward hacking.

Two layers read each attempt's transcript. `rules` (free, always on, in every report) match
what the model itself ran and said against patterns of known shortcuts, each flag naming the
turn and quoting the line. `judge` (opt-in, `swelancer monitor --monitor-model`) asks a chat
model, through the same `ChatModel` layer as the agents, for a score 0–100 and the turns that
show it. `scan` runs both over a run directory and writes `monitor.json` into it; `summary`
is what the reports show.
"""
