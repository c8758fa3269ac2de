"""The Llama 2 recipe's training numbers, in one place, importable without torch.

Every default of the training code comes from here; each constant names the section of
"Llama 2: Open Foundation and Fine-Tuned Chat Models" (arXiv 2307.09288) it comes from.
The words both sides of the export share (axes, strengths, margin tables, risk categories)
live once in :mod:`paddock.kernel.vocabulary`, not here.
"""

from __future__ import annotations

# Reward-model training (section 3.2.2).
RM_EPOCHS = 1  # "training longer can lead to over-fitting"
RM_LEARNING_RATE = 1e-5  # 5e-6 for 70B
RM_MIN_LR_RATIO = 0.1  # cosine decay to 10% of the peak
RM_WARMUP_RATIO = 0.03  # 3% of the steps ...
RM_MIN_WARMUP_STEPS = 5  # ... and at least 5
RM_BATCH_PAIRS = 512

# Data mixes (section 3.2.2): the helpfulness RM adds an equal amount of safety and
# open-source data to all helpfulness data; the safety RM mixes all safety data plus
# Anthropic Harmless 90/10 with helpfulness data.
HELPFULNESS_MIX_OTHER_RATIO = 1.0
SAFETY_MIX_HELPFULNESS_SHARE = 0.1

# Safety reward threshold for the combined PPO reward (section 3.2.3).
SAFETY_SCORE_THRESHOLD = 0.15

# Supervised fine-tuning, also on rejection-sampled data (section 3.1, 3.2.3): loss on
# answer tokens only.
SFT_LEARNING_RATE = 2e-5
SFT_WEIGHT_DECAY = 0.1
SFT_BATCH_SEQUENCES = 64
SFT_EPOCHS = 2

# Rejection sampling (section 3.2.3): best temperature at 10-100 samples was 1.2-1.3.
REJECTION_TEMPERATURE = 1.2

# PPO (section 3.2.3).
PPO_LEARNING_RATE = 1e-6  # constant
PPO_ADAM_BETAS = (0.9, 0.95)
PPO_ADAM_EPS = 1e-5
PPO_WEIGHT_DECAY = 0.1
PPO_MAX_GRAD_NORM = 1.0
PPO_BATCH = 512
PPO_MINIBATCH = 64
PPO_CLIP = 0.2
PPO_KL_BETA = 0.01  # 7B/13B; 0.005 for 34B/70B
PPO_ITERATIONS = (200, 400)  # with early stopping on held-out prompts

# Llama 2 chat format (the tokenizer's own chat template wins where it has one).
LLAMA2_SYSTEM_OPEN = "<<SYS>>\n"
LLAMA2_SYSTEM_CLOSE = "\n<</SYS>>\n\n"
LLAMA2_INST_OPEN = "[INST] "
LLAMA2_INST_CLOSE = " [/INST]"
