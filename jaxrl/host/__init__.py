"""The host side: drivers that run the compiled programs in chunks, and everything around a run.

    sweep.py       gymnax runs: one program, or chunked with checkpoints, SIGINT/SIGTERM and resume
    atari_run.py   envpool runs: chunks, logs, evaluations, checkpoints, resume
    checkpoint.py  atomic checkpoints, interrupt and divergence handling
    rundir.py      the run directory: config, metrics, summary, TensorBoard, plots
    evaluate.py    greedy Atari evaluation and its video
    policy.py      `load_policy(run_dir)`
    doctor.py      `jaxrl doctor`: versions, backend, devices, the env.xla() probe
"""
