"""Gymnasium CartPole-v1 stepping throughput with pre-drawn actions, the peer row of `bench/cartpole.ts`.

twinlab's CartPole loop draws its actions inline (an xorshift, about 1 ns), so the env is what it
measures; here the actions are drawn before the clock starts (numpy, seeded) and read from a Python
list, so `action_space.sample()` (microseconds) is not timed either. Two figures: through
`gymnasium.make("CartPole-v1")` (its default wrappers: PassiveEnvChecker, OrderEnforcing, TimeLimit —
twinlab's `make` adds TimeLimit) and on the unwrapped env with the episode cut at 500 steps in the loop.

Needs Gymnasium importable (e.g. PYTHONPATH pointing at a Gymnasium checkout) and numpy; nothing in
twinlab imports or runs this file. Run: `python3 bench/peers/gymnasium_cartpole.py [STEPS] [REPEATS]`.
"""

import statistics
import sys
import time

import gymnasium as gym
import numpy as np


def run(env, actions, limit):
    env.reset(seed=0)
    t = 0
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        t += 1
        if terminated or truncated or t == limit:
            env.reset()
            t = 0
    return len(actions) / (time.perf_counter() - start)


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    actions = np.random.default_rng(0).integers(0, 2, size=steps).tolist()
    wrapped = gym.make("CartPole-v1")
    raw = gym.make("CartPole-v1").unwrapped
    made, bare = [], []
    for _ in range(repeats):
        made.append(run(wrapped, actions, 10**12))
        bare.append(run(raw, actions, 500))
    print(f"gymnasium {gym.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}, {steps:,} steps x {repeats}")
    print(f"gym.make('CartPole-v1') steps/s  median {statistics.median(made):,.0f}  (runs: {', '.join(f'{v:,.0f}' for v in made)})")
    print(f"unwrapped CartPoleEnv steps/s    median {statistics.median(bare):,.0f}  (runs: {', '.join(f'{v:,.0f}' for v in bare)})")


if __name__ == "__main__":
    main()
