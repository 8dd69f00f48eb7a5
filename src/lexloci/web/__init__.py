"""The browser client's files: Jinja2 templates, static scripts and styles, interface strings.

Served by ``lexloci.api.routes.pages``; everything the meeting page needs ships in this package
(no CDN), and ``strings.json`` holds the interface in every notice language (en, de, zh).
"""
