"""Live Close events for agents: Close's webhooks (push) or its Event Log (follow) feed one in-process
hub, served as MCP resource subscriptions and the ``wait_for_events`` tool.

* :mod:`.signature` – the ``close-sig-hash`` check and the timestamp window;
* :mod:`.keyring` – the subscriptions' signature keys, in an owner-only file, with rotation overlap;
* :mod:`.receiver` – ``POST /webhooks/close`` on the remote server;
* :mod:`.hub` – dedupe by event ID, order, fan-out to resource subscribers and waiters;
* :mod:`.follow` – the Event Log follower (no public URL needed);
* :mod:`.tools` – the local tools ``wait_for_events`` and ``subscribe_webhooks``;
* :mod:`.subscriptions` – creating, updating and rotating the Close webhook subscription.
"""
