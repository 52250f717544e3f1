"""Phone one-time codes, and logging in with one."""
