"""Adapters to the world: email, SMS, webhooks, inbound parsing. They know nothing of the store.

Outgoing (the dispatcher fills `outgoing.Outgoing*` from an outbox row):
  email.build_email + smtp.SmtpPool.send, sms.make_provider(...).send_sms / send_voicemail,
  webhooks.WebhookSender.send. Failures raise errors.TransientError (retry, same key) or
  errors.PermanentError (fail the message).
Incoming (the inbound endpoints and the intake server):
  inbound_email.classify_email, inbound_sms.classify_sms, lead_intake.parse_lead_email,
  tracking.read_*_token, twilio.parse_inbound_sms / parse_status_callback,
  intake.start_intake.
"""
