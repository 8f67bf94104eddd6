"""The batch run: the list of stages, and the files it writes."""
