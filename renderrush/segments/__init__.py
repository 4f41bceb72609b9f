"""One segment of a job: rendering it (decode -> filters -> encode), its job folder, progress
files and timeline. Imports `renderrush.media` and `renderrush.core`."""
