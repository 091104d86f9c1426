"""Core types every layer uses: the exception tree and the immutable verdict records."""
