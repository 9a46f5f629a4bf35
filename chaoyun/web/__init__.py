"""Web shell: app factory, request context, rendering, navigation, static assets."""
