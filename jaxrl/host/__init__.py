"""The host side: drivers that run the compiled programs in chunks, and everything around a run.

    train_run.py   `jaxrl train` after parsing: the driver for the env, the run directory, the closing lines
    sweep.py       gymnax runs: one program, or chunked with checkpoints, SIGINT/SIGTERM and resume
    atari_run.py   envpool runs: chunks, evaluations, checkpoints, resume; atari_log.py: what they log
    checkpoint.py  atomic checkpoints, interrupt and divergence handling
    metrics.py     the one metrics.csv writer/reader; progress.py: the one progress display
    summary.py     the one per-seed summary and the closing tables
    rundir.py      the run directory: config, summary, TensorBoard, plots
    evaluate.py    greedy Atari evaluation and its video
    policy.py      `load_policy(run_dir)`; devices.py: host devices for sharded CPU sweeps
    tabular_run.py `jaxrl tabular`'s run; doctor.py: `jaxrl doctor`
"""
