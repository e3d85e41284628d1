"""Adapters to the world: email, SMS, webhooks, inbound parsing. They know nothing of the store."""
