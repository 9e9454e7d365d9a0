"""Package data of the console (a package so that its files are installed with it)."""
