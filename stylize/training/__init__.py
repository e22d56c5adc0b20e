"""Training networks for any task: one loop (loop.py), its data (data.py) and its checkpoints (checkpoint.py).

A task takes part by providing an Objective (see loop.py): its network, its training pairs and its loss.
"""
