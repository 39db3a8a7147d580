"""Necks between backbone and heads (FPN ...), one module per neck; imported when a config first builds one."""
