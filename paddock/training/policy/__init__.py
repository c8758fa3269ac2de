"""The chat policy: chat format, sampling, SFT, rejection sampling, PPO, Ghost Attention."""
