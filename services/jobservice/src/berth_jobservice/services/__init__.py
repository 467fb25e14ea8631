"""Business rules of the jobservice: submitting and stopping work, schedules, relay, webhooks, recovery."""
