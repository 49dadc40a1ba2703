"""The integrator tools (bulk onboarding, inventory matching): they reach the service only through the SDK."""
