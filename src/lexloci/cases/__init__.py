"""The government-request workflow: intake, impact preview, two-person decision, appeal."""
