"""Reward models, generation, rejection sampling, PPO and SFT in plain torch + transformers.

This package never imports Django (a test walks its import graph): it takes files and
configs and returns files and metrics, so it runs the same on a GPU worker, in a notebook
or under torchrun.
"""
