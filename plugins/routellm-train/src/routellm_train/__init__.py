"""Training helpers shared by routellm's router trainers: battle labels, a fine-tuning loop, model cards.

Not a plugin (no entry point): trainers depend on this distribution, servers never need it.
"""
