"""The course's DQN in plain, imperative PyTorch: the readable reference that `parity_tests/` compares
`jaxrl` against, and the baseline that `benchmarks/` times.

It mirrors `jaxrl/` module for module and name for name, and imports nothing from `jaxrl` except the
plain-data `jaxrl.config`.
"""
