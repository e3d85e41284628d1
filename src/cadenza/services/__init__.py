"""Use cases over the store: one package per domain, plain functions taking a keyword-only session.

Each package's `__init__` is its public face, which the adapters (api, web, cli, engine)
import. The packages stand in layers, each using only the ones below it, so the modules
have no cycle:

    demo, inbound           what comes in from outside (leads, replies, STOPs, clicks)
    contacts                contacts added one at a time or imported (announced to events)
    sequences, events       a sequence's lifecycle and versions; events and their triggers
    tasks                   people's to-do lists, and completing a task
    enrollments             enrolling, applying the machine's decisions, people's operations
    outbox                  rendering steps into messages, the last check, sending results
    history, users, senders the audit log; people and API keys; capacity

Applying a decision never reaches up: what it sets off beyond its enrollment (a contact
change, a hand-over to another sequence) is handed back as consequences, which the events
layer applies.
"""
