"""The Voice Live session: the connection worker and what it says over the socket
(dialogue, handshake, upkeep, reconnect, barge-in, auth, the service
configuration it asks for, tool calls and the conversation log). No front end here."""
