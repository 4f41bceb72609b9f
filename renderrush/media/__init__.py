"""Media: probing, frame tables, decoding, filters, encoding, stitching, cutting and the bundled
ffmpeg binary; one file or one frame at a time. Imports only `renderrush.core`."""
