"""The Django integration: the swapped ``connect``, settings, decorators and lifecycle.

Where Django meets the pool core: which connections are pooled, how settings become pool
configurations, what happens to Django's connections at fork and shutdown.
"""
