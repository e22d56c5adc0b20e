"""One module per job, behind one small protocol.

A task is built once (weights, style targets, references) and then turns pixels into pixels: call it
with an (N, 3, H, W) float batch in [0, 1], or give its `process(images, jobs)` to batch.run_jobs, which
loads, saves and reports. A task that runs a network tiles through tasks/network.py, which reads the
output scale, receptive field and statistics from the network; a task that trains provides an Objective
for training/loop.py.

    gatys.py   optimization-based style transfer (Gatys et al.)
    fast.py    fast style models (Johnson et al.): apply, and the training objective
    network.py applying any feed-forward network from a model file, tiled
"""
