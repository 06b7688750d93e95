"""``deep-insight console``: a web page on 127.0.0.1 for the people who ask the questions.

Along its seams: `previews` (a dropped file's columns and first rows), `jobs` (start, watch, cancel,
review and list jobs; their folders are ``deep-insight run``'s), `app` (the Starlette routes and the
token), `static/` (the page: plain HTML, CSS and JavaScript, served from the package, no CDN)."""
