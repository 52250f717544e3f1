"""Chat: chatrooms, prompts answered by Gemini through the job queue, streamed replies.

Why ``GET /chatroom`` is cached
-------------------------------
The room list is what a client loads every time its dashboard opens, so it is the most frequent read
of the module, while rooms themselves change rarely — a message does not change the list, only
creating, renaming or deleting a room does. Each user's list is therefore kept in ``runtime.cache``
(Redis when ``OJA_REDIS_URL`` is set, so every API replica shares it; in-process otherwise) for
``OJA_CHATROOM_CACHE_TTL`` seconds (default 300, five minutes), stored as the
ready-to-send JSON body: a hit runs no query and serialises nothing. Staleness is not traded for
speed: create, rename and delete invalidate the user's list as soon as they commit (by moving the
user's cache *generation*, see :mod:`oja.chat.service`, so a read racing a write cannot put the old
list back). The TTL only bounds memory and the damage of a lost invalidation. The cache holds copies
only; losing it costs one query. ``X-Cache: hit|miss`` on the response says which it was.

Tiers and what counts as a prompt
---------------------------------
Every ``POST /chatroom/{id}/message`` that is accepted spends one prompt from billing's quota engine
(metric ``chat.prompts``, subject the user): **Basic** (no active subscription) has 5 a day,
**Pro** (an ``active`` or ``trialing`` Stripe subscription) is unlimited. Days are UTC calendar
days: the count resets at 00:00 UTC, and ``resets_at`` says when. The unit is *reserved* atomically
before the prompt is stored (with Redis or a conditional SQL update, so 100 simultaneous sends by a
Basic user give exactly 5 prompts and 95 × 429 with ``remaining`` and ``resets_at``); it is
*committed* once the reply is stored, and *refunded* when the reply cannot be produced (provider
errors after retries, timeouts, a room deleted before its reply) — a failed prompt costs nothing.
Not counted: requests refused before the reservation (validation errors, unknown rooms, 429s) and
resends of a ``client_message_id``, which return the first result.

Flow
----
The prompt and a ``chat.generate`` job commit together; a worker streams the reply from the
provider (``gemini`` when ``OJA_GEMINI_API_KEY`` is set, else the offline ``local`` provider,
labelled as such on the reply) into a reply stream, then stores it. The request waits up to
``OJA_CHAT_WAIT_SECONDS`` (201 with the reply) or answers 202 with ``status_url`` and
``stream_url`` (server-sent events, resumable with ``Last-Event-ID``).
"""
