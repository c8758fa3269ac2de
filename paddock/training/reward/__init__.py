"""Helpfulness and safety reward models (Llama 2 paper, section 3.2.2).

``pairs`` holds the data type every reader produces and the trainer consumes; readers
turn the platform's export and public preference formats into pairs; ``mixes`` builds
each RM's training mix; ``trainer`` trains a scalar-head model with the margin loss;
``evaluation`` reports accuracy per strength level. ``python -m paddock.training.reward``
is the command line the workers call.
"""
