"""Reports: figures kept in counters as history is written, read per sequence and day."""
