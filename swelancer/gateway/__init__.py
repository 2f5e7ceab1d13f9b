"""The model gateway: the one way out of a task container, to the run's models (`server`),
what it knows of each protocol (`protocols`), and what it spent and recorded (`ledger`)."""
