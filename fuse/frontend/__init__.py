"""Front end: lexer, parser, printer and semantic checks of the Fuse DSL."""
