"""The processing pipeline run by the ``files.process`` job.

pyvips is imported lazily, inside the functions that use it: the Celery worker forks its children
after importing every jobs module, and libvips' threads must not be started before that fork.
"""
