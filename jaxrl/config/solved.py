"""What "solved" means, per env: one criterion for every env family, read by the summaries, `jaxrl evaluate`
and `jaxrl compare` (plain data)."""

from __future__ import annotations

from jaxrl.config.atari_scores import REFERENCE_SCORES

SOLVED_SCORE = {"CartPole-v1": 475.0, "Pong-v5": 18.0}
"""CartPole-v1: Gymnasium's `reward_threshold` (475 of the 500 a whole episode earns), over the summary's window
of episodes. Pong: the course's mean above 18 over the last 100 games (above the human score, 14.6)."""


def solve_threshold(env_id: str) -> float | None:
    """The mean score that counts as solved: `SOLVED_SCORE`'s for CartPole and Pong, the human score for the other
    Atari-57 games (HNS 1, human level), None for the rest."""
    if env_id in SOLVED_SCORE:
        return SOLVED_SCORE[env_id]
    return REFERENCE_SCORES[env_id][1] if env_id in REFERENCE_SCORES else None
