"""The conversation as a pure reducer over Voice Live events and its values (turns,
replies, agent activity, latency, export). No I/O: tested with lists of events."""
