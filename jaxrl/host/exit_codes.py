"""The exit statuses of `jaxrl` commands (besides 0 and the CLI's usage error, 2), in one place for the code that
returns them and for the launcher that reads its workers'. Plain constants: importing this costs nothing."""

EXIT_IO = 1  # a write failed (a read-only run directory, a full disk): one line
EXIT_DIVERGED = 3  # every seed of the run diverged
EXIT_INTERRUPTED = 130  # stopped by SIGINT/SIGTERM (after a checkpoint, or at once on a second signal)
