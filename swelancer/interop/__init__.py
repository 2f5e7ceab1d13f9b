"""Runs other tools read, and others' runs this one reads.

`conversation` reads an attempt's transcript.jsonl into turns (what the model was sent, what it
answered, what its actions gave back); `inspect_export` writes a run as an Inspect AI eval log
and `atif_export` as Harbor ATIF trajectories, both from those turns and the attempts' records;
`inspect_import` turns an Inspect log of the `inspect_evals` SWE-Lancer task into a run
directory that `swelancer report` reads. `inspect_ai` is an optional extra (`[inspect]`),
imported only inside the functions that need it.
"""
