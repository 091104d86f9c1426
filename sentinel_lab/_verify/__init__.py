"""The verifier: the checks, custom checks, intent, rate limit and scope, returning one Verdict."""
