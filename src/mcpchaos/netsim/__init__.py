"""Network simulation in user space (this kernel has no netem): pure per-connection
schedules for byte chunks, and one stream wrapper that carries a schedule out."""
