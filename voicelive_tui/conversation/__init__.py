"""The conversation as a pure reducer over Voice Live events and its values (turns,
agent replies, activity, latency, export). No I/O: tested with lists of events."""
