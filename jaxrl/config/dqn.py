"""`DQNConfig`: every DQN hyperparameter in one frozen dataclass, validated before tracing (plain Python).

Units: an *env step* is one agent step in one environment (one call of `env.step` for one env, one
transition in the buffer). With `num_envs` parallel envs, one vectorized step is `num_envs` env steps.
For Atari, one env step is 4 emulator frames (frame skip); the course's `frames_total` counts env steps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from jaxrl.config.atari import ATARI_PROTOCOLS
from jaxrl.config.checks import check_type, choice, fail, positive_float, positive_int
from jaxrl.config.grid import TRACED_FIELDS  # noqa: F401  (re-exported: the fields a grid may sweep)

LOSSES = ("huber", "mse")
GRAD_CLIPS = ("none", "element", "global-norm")
OPTIMIZERS = ("adam", "rmsprop")
LR_SCHEDULES = ("constant", "linear")
EPSILON_SCHEDULES = ("exponential", "linear")
NETWORKS = ("auto", "mlp", "cnn")
LOOPS = ("host", "xla")
CONV_KERNELS = ("auto", "xla", "im2col")
COMPUTE_DTYPES = ("float32", "bfloat16")
REPLAY_SEARCHES = ("auto", "scan", "scan_unrolled", "sort", "compare_all")


@dataclass(frozen=True)
class DQNConfig:
    """DQN hyperparameters, named as in the course. Nothing derived is stored; see the properties."""

    env_id: str = "CartPole-v1"
    """Environment id: a gymnax id (e.g. `CartPole-v1`) or an envpool Atari id (e.g. `Pong-v5`)."""
    seed: int = 0
    """Root seed; seed `i` of a sweep uses `jax.random.split(PRNGKey(seed), num_seeds)[i]`."""
    num_seeds: int = 1
    """Independent agents trained at once (one vmapped program), per grid point."""
    grid: tuple[str, ...] = ()
    """Hyperparameter grid over the traced fields (`TRACED_FIELDS`): entries `NAME=V1,V2,...`, e.g.
    `--grid learning_rate=1e-3,3e-4 gamma=0.99,0.9`. The sweep is every point (cartesian product) x num_seeds,
    all in one program, sharded over the visible devices; the field's own value is ignored when gridded."""
    num_envs: int = 1
    """Parallel environments per agent. Each vectorized step adds `num_envs` transitions."""
    total_steps: int = 100_000
    """Env steps per agent (summed over its `num_envs` envs)."""
    learning_starts: int = 1_000
    """Env steps collected before the first gradient update."""
    train_frequency: int = 1
    """One gradient update every `train_frequency` env steps (with num_envs=8, train_frequency=2 means 4
    updates per vectorized step). Must divide num_envs or be a multiple of it."""

    learning_rate: float = 1e-3
    """Optimizer step size."""
    lr_schedule: str = "constant"
    """`constant`, or `linear`: from `learning_rate` down to 0 at the run's last update (`optax.linear_schedule`)."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    buffer_size: int = 50_000
    """Replay capacity in transitions (per agent)."""
    batch_size: int = 64
    """Transitions per gradient update."""
    target_update_frequency: int = 500
    """Hard copy online -> target every this many env steps (the course's C)."""

    double_dqn: bool = True
    """Double DQN: the online net picks a' at s', the target net evaluates it."""
    dueling: bool = False
    """Dueling head Q = V + A - mean(A)."""
    network: str = "auto"
    """Torso: `mlp`, `cnn` (Nature CNN), or `auto` (cnn for image observations, else mlp)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the MLP torso (ignored by the CNN)."""
    normalize_image: bool = True
    """Divide uint8 pixels by 255 inside the network (frames are stored as uint8)."""
    conv: str = "auto"
    """The CNN's convolution kernel: `xla` (`lax.conv_general_dilated`: cuDNN on a GPU, and a grouped
    convolution when vmapped over seeds), `im2col` (strided slices and one matmul; vmapped over seeds, one
    seed-batched matmul), or `auto`: chosen per backend and seed count (`jaxrl.agents.networks.conv_kernel`)."""
    compute_dtype: str = "float32"
    """`float32`, or `bfloat16`: the inputs of every matmul and convolution and the stored activations in
    bfloat16, accumulated in float32; params, optimizer state, Q-values, targets, the loss, the gradient clamp and
    the priorities stay float32."""
    replay_search: str = "auto"
    """The frame replay's uniform draws (`jnp.searchsorted`'s method, the same slots for all; `auto`: `search_method`)."""

    egreedy: float = 0.9
    """Initial epsilon (the course's `egreedy`)."""
    egreedy_final: float = 0.01
    """Final epsilon."""
    egreedy_decay: float = 500.0
    """Epsilon decay in env steps: the exponential schedule's time constant, or the linear one's length."""
    epsilon_schedule: str = "exponential"
    """`exponential`: eps = final + (start - final) * exp(-steps / decay); `linear`: straight line to
    final over `egreedy_decay` steps, then constant."""

    n_step: int = 1
    """n-step returns (Rainbow): bootstrap from s_{t+n}, cut at episode ends (1 = the course's one-step)."""
    prioritized: bool = False
    """Proportional prioritized replay (Schaul et al.): sample by (|TD error| + per_eps)^per_alpha."""
    per_alpha: float = 0.6
    """Priority exponent alpha (0 = uniform)."""
    per_beta: float = 0.4
    """Initial importance-sampling exponent beta, annealed linearly to 1 over the run's updates."""
    per_eps: float = 1e-6
    """Added to |TD error| so that no transition gets priority 0."""
    distributional: bool = False
    """C51 (Bellemare et al.): a categorical return distribution on `num_atoms` atoms in [v_min, v_max],
    cross-entropy loss to the projected target (replaces `loss`)."""
    num_atoms: int = 51
    """Atoms of the C51 support."""
    v_min: float = -10.0
    """Lowest atom of the C51 support."""
    v_max: float = 10.0
    """Highest atom of the C51 support."""

    grad_clip: str = "element"
    """Gradient clipping before the optimizer: `element` clamps every element to [-grad_clip_value,
    grad_clip_value] (the course's `param.grad.data.clamp_(-1, 1)`), `global-norm` rescales the whole gradient to
    norm <= grad_clip_value (`optax.clip_by_global_norm`; SB3's DQN: 10), `none`. docs/error-clipping.md."""
    grad_clip_value: float = 1.0
    """The clamp bound (`element`) or the largest global norm (`global-norm`)."""
    clip_error: bool = True
    """The course's name for its error clipping: off (`--no-clip-error`) = `grad_clip` none; on keeps it."""
    loss: str = "huber"
    """`huber` (SmoothL1, delta=1) or `mse`."""
    optimizer: str = "adam"
    """`adam` or `rmsprop` (both with PyTorch's semantics)."""
    adam_eps: float = 1e-8
    """Adam's epsilon, added outside the square root (PyTorch's and optax's default 1e-8; Dopamine's and DQN Zoo's
    Rainbow use 0.01 / 32 = 3.125e-4). Larger values shrink the steps of parameters whose gradients are small."""

    # ----- the chunked driver (every `jaxrl train` run), evaluations and checkpoints -----
    atari_protocol: str = "course"
    """Envpool runs: `course` (the course's DeepMind-wrapper options) or `machado` (Machado et al. 2018: sticky
    actions, 18 actions, no life loss, no no-op starts), `jaxrl.config.atari`; docs/atari.md."""
    loop: str = "xla"
    """Envpool runs: `xla`: env.xla() inside jitted `lax.scan` chunks; `host`: envpool steps in numpy between calls."""
    overlap: bool = False
    """Envpool runs, both loops: step the envs while the updates run; acting uses parameters one update old
    (not the course's order). Off by default."""
    log_frequency: int = 10_000
    """Env steps per agent between progress lines / CSV flushes (one jitted chunk)."""
    eval_frequency: int = 0
    """Env steps per agent between greedy evaluations (checked at chunk ends: every log_frequency env steps;
    Atari: a multiple of log_frequency). Gymnax runs: 0 = no evaluations, else also one at the end, with the
    best-evaluated parameters kept as params_best.msgpack. Atari runs: 0 = only at the end."""
    eval_episodes: int = 4
    """Whole episodes per agent and evaluation (Atari: whole games, no episodic life, raw score)."""
    eval_epsilon: float = 0.01
    """Epsilon of the evaluation policy (0 = fully greedy)."""
    checkpoint_frequency: int = 0
    """Env steps per agent between checkpoints (a multiple of log_frequency); 0 = only at the end (envpool)
    or only on SIGINT/SIGTERM (gymnax)."""
    save_buffer: bool = False
    """Include the replay buffer in checkpoints (about 7 KB per transition and agent)."""
    video: bool = True
    """Record one evaluation game of seed 0 as `eval.mp4` at the end."""

    # ----- derived values (never stored) -----
    @property
    def grad_clip_mode(self) -> str:
        """The gradient clipping the optimizer applies: `grad_clip`, or `none` with `clip_error` off."""
        return self.grad_clip if self.clip_error else "none"

    iterations_per_update_block = property(lambda self: max(1, self.train_frequency // self.num_envs),
                                           doc="Vectorized env steps between two rounds of updates.")
    updates_per_block = property(lambda self: max(1, self.num_envs // self.train_frequency),
                                 doc="Gradient updates after each block of vectorized env steps.")

    @property
    def steps_per_block(self) -> int:
        """Env steps in one (act, ..., act, update, ...) block."""
        return self.num_envs * self.iterations_per_update_block

    @property
    def num_blocks(self) -> int:
        """Blocks after `learning_starts`."""
        return (self.total_steps - self.learning_starts) // self.steps_per_block

    @property
    def num_updates(self) -> int:
        """Gradient updates per agent over the whole run."""
        return self.num_blocks * self.updates_per_block

    def grid_points(self) -> list[dict]:
        """The grid's points as `{field: value}` dicts (cartesian product, first entry slowest); `[{}]` without
        a grid. Raises `ValueError` for a malformed entry (`jaxrl.config.grid.grid_points`)."""
        from jaxrl.config.grid import grid_points
        return grid_points(self.grid)

    @property
    def sweep_size(self) -> int:
        """Agents in the program: grid points x num_seeds."""
        return len(self.grid_points()) * self.num_seeds

    def replace(self, **changes) -> "DQNConfig":
        return dataclasses.replace(self, **changes)

    to_dict = dataclasses.asdict

    @classmethod
    def from_dict(cls, d: dict) -> "DQNConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown DQNConfig field(s): {', '.join(unknown)}")
        return cls(**{k: tuple(v) if k in ("hidden_sizes", "grid") else v for k, v in d.items()})

    def validate(self) -> "DQNConfig":
        """Raise `ValueError` naming the first offending field and its accepted range; return self."""
        check_type(self)
        positive_int(self, "num_seeds", "num_envs", "total_steps", "train_frequency", "buffer_size",
                      "batch_size", "target_update_frequency")
        if not 0 <= self.seed < 2**63:
            fail("seed", self.seed, "an integer in [0, 2**63)")
        if self.learning_starts < 0:
            fail("learning_starts", self.learning_starts, "an integer >= 0")
        if not self.learning_starts < self.total_steps:
            fail("learning_starts", self.learning_starts, f"< total_steps ({self.total_steps})")
        if self.batch_size > self.buffer_size:
            fail("batch_size", self.batch_size, f"<= buffer_size ({self.buffer_size})")
        if self.num_envs > self.buffer_size:
            fail("num_envs", self.num_envs, f"<= buffer_size ({self.buffer_size})")
        if not (self.train_frequency % self.num_envs == 0 or self.num_envs % self.train_frequency == 0):
            fail("train_frequency", self.train_frequency,
                  f"a divisor or a multiple of num_envs ({self.num_envs})")
        for name in ("total_steps", "learning_starts"):
            if getattr(self, name) % self.steps_per_block:
                fits = [n for n in range(1, 65) if self.total_steps % n == 0 and self.learning_starts % n == 0
                        and (self.train_frequency % n == 0 or n % self.train_frequency == 0)]
                fail(name, getattr(self, name),
                      f"a multiple of num_envs * max(1, train_frequency // num_envs) = {self.steps_per_block} "
                      f"(num_envs={self.num_envs}); or pick --num-envs among {', '.join(map(str, fits[:8]))}")
        positive_float(self, "learning_rate")
        if not 0.0 <= self.gamma <= 1.0:
            fail("gamma", self.gamma, "[0, 1]")
        if not 0.0 <= self.egreedy <= 1.0:
            fail("egreedy", self.egreedy, "[0, 1]")
        if not 0.0 <= self.egreedy_final <= 1.0:
            fail("egreedy_final", self.egreedy_final, "[0, 1]")
        if self.egreedy_final > self.egreedy:
            fail("egreedy_final", self.egreedy_final, f"<= egreedy ({self.egreedy})")
        if not self.egreedy_decay > 0 or not math.isfinite(self.egreedy_decay):
            fail("egreedy_decay", self.egreedy_decay, "a finite float > 0 (env steps)")
        choice(self, "epsilon_schedule", EPSILON_SCHEDULES)
        choice(self, "loss", LOSSES)
        choice(self, "grad_clip", GRAD_CLIPS)
        positive_float(self, "grad_clip_value", "adam_eps")
        if not self.clip_error and self.grad_clip != "element":
            fail("clip_error", self.clip_error, f"True with grad_clip={self.grad_clip!r} (--no-clip-error turns "
                 "clipping off; --grad-clip none says the same)")
        choice(self, "optimizer", OPTIMIZERS)
        choice(self, "lr_schedule", LR_SCHEDULES)
        choice(self, "network", NETWORKS)
        choice(self, "conv", CONV_KERNELS)
        choice(self, "compute_dtype", COMPUTE_DTYPES)
        choice(self, "replay_search", REPLAY_SEARCHES)
        if not self.hidden_sizes or any(not isinstance(h, int) or h <= 0 for h in self.hidden_sizes):
            fail("hidden_sizes", self.hidden_sizes, "a non-empty tuple of integers > 0")
        choice(self, "loop", LOOPS)
        choice(self, "atari_protocol", ATARI_PROTOCOLS)
        positive_int(self, "n_step")
        if self.n_step > 1 and self.buffer_size % self.num_envs:
            fail("buffer_size", self.buffer_size, f"a multiple of num_envs ({self.num_envs}) with n_step > 1")
        if self.n_step > max(1, self.buffer_size // self.num_envs - 1):  # a window must fit, with room to move
            fail("n_step", self.n_step, f"<= buffer_size / num_envs - 1 = {self.buffer_size // self.num_envs - 1} "
                 "(a window of n_step transitions of one env must fit in the replay buffer)")
        if self.learning_starts < (self.n_step - 1) * self.num_envs:
            fail("learning_starts", self.learning_starts, f">= (n_step - 1) * num_envs = "
                 f"{(self.n_step - 1) * self.num_envs} (the first update needs whole n-step windows to sample)")
        if not 0.0 <= self.per_alpha <= 1.0:
            fail("per_alpha", self.per_alpha, "[0, 1]")
        if not 0.0 <= self.per_beta <= 1.0:
            fail("per_beta", self.per_beta, "[0, 1]")
        if not self.per_eps > 0:
            fail("per_eps", self.per_eps, "> 0")
        if self.num_atoms < 2:
            fail("num_atoms", self.num_atoms, "an integer >= 2")
        if not self.v_min < self.v_max:
            fail("v_max", self.v_max, f"> v_min ({self.v_min})")
        positive_int(self, "log_frequency", "eval_episodes")
        for name in ("eval_frequency", "checkpoint_frequency"):
            if getattr(self, name) < 0:
                fail(name, getattr(self, name), "an integer >= 0 (0 = only at the end)")
        if not 0.0 <= self.eval_epsilon <= 1.0:
            fail("eval_epsilon", self.eval_epsilon, "[0, 1]")
        if not self.env_id or not isinstance(self.env_id, str):
            fail("env_id", self.env_id, "a non-empty environment id")
        if self.grid:
            for point in self.grid_points():  # every point must be a valid config on its own
                self.replace(grid=(), **point).validate()
        return self

    def validate_envpool(self, num_devices: int = 1) -> "DQNConfig":
        """`validate()` plus what the chunked envpool loops need (`jaxrl.config.envpool_checks`)."""
        from jaxrl.config.envpool_checks import validate_envpool
        return validate_envpool(self.validate(), num_devices)
