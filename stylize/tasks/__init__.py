"""One module per job, behind one small protocol (protocol.py: Task, and Objective for training).

A task is built once (weights, style targets, references, its progress and notice callbacks) and then turns
pixels into pixels: call it with an (N, 3, H, W) float batch in [0, 1], or give its `process(images, jobs)`
to batch.run_jobs, which loads, saves and reports. A task that runs a network tiles through network.py,
which reads the output scale, receptive field and statistics from the network; a task that trains provides
an Objective for training/loop.py. Which tasks have model files is stylize/task_table.py.

    gatys/       optimization-based style transfer (Gatys et al.): the optimization, its schedule, pyramid,
                 optimizer carry, progress and memory model
    styling.py   the styling task for what was asked: the optimization, fast models or any painting
    fast.py      fast style models (Johnson et al.): apply, and the training objective
    arbitrary.py any painting in one pass (feature transforms between VGG19 and decoders), and its objective
    upscale.py   super-resolution, and its objective
    colorize.py  colorization from references or automatic, and its objective
    video/       frames through any of the above, with temporal consistency: flow, blend, masks, the job
    network.py   applying any feed-forward network from a model file, tiled
"""
