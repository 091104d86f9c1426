"""Policies: the model and its loading, argument conditions, and the engine (policy, state, call) -> verdict."""
